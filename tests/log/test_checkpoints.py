"""Signed checkpoints: when they are made, how they are shown, exported and verified."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from app.db import Database
from app.log.signing import load_signer
from tests.helpers import log, open_incident, parse_time, raw
from tests.log.offline import verify_export

PATCH = "/api/v1/incidents/{}"


def checkpoints(api: TestClient, incident_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/incidents/{incident_id}/log/checkpoints")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def signed_bytes(checkpoint: dict[str, Any]) -> bytes:
    """The documented encoding (docs/log-chain.md), written out here rather than imported."""
    signed_at = parse_time(checkpoint["signed_at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    value = {
        "hash": checkpoint["hash"],
        "incident_id": checkpoint["incident_id"],
        "key_fingerprint": checkpoint["key_fingerprint"],
        "number": checkpoint["number"],
        "signed_at": signed_at,
        "type": "samvirke.log.checkpoint",
        "v": 1,
    }
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def server_key(db: Database) -> str:
    """The server's public key, as the verifier reads it."""
    assert db.signer is not None
    return db.signer.public_pem


def test_checkpoints_at_50_entries_at_a_phase_change_and_at_closing(
    api: TestClient, db: Database, tmp_path: Path
) -> None:
    incident_id = open_incident(api)["id"]  # #1
    for n in range(2, 50):
        log(api, incident_id, text=f"Report {n}.")
    assert checkpoints(api, incident_id) == []
    fiftieth = log(api, incident_id, text="Report 50.")
    assert [(c["number"], c["hash"]) for c in checkpoints(api, incident_id)] == [
        (50, fiftieth["hash"])
    ]
    log(api, incident_id, text="Report 51.")
    level = api.patch(PATCH.format(incident_id), json={"level": "red"})
    assert level.status_code == 200, level.text  # #52: a level change alone signs nothing
    assert [c["number"] for c in checkpoints(api, incident_id)] == [50]
    phase = api.patch(PATCH.format(incident_id), json={"phase": "response"})
    assert phase.status_code == 200, phase.text  # #53
    log(api, incident_id, text="Report 54.")
    closed = api.patch(PATCH.format(incident_id), json={"phase": "closed"})
    assert closed.status_code == 200, closed.text  # #55
    listed = checkpoints(api, incident_id)
    assert [c["number"] for c in listed] == [50, 53, 55]

    assert db.signer is not None
    key = Ed25519PublicKey.from_public_bytes(db.signer.public_raw)
    fingerprint = hashlib.sha256(db.signer.public_raw).hexdigest()
    entries = {
        e["number"]: e
        for e in api.get(f"/api/v1/incidents/{incident_id}/log?limit=100").json()["items"]
    }
    for checkpoint in listed:
        assert checkpoint["key_fingerprint"] == fingerprint
        assert checkpoint["hash"] == entries[checkpoint["number"]]["hash"]
        assert checkpoint["incident_id"] == incident_id and checkpoint["v"] == 1
        key.verify(base64.b64decode(checkpoint["signature"]), signed_bytes(checkpoint))

    verified = api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()
    assert verified["ok"] is True, verified

    # The export: entry lines as before, then one line per checkpoint.
    export = api.get(f"/api/v1/incidents/{incident_id}/log/export").text
    lines = [json.loads(line) for line in export.split("\n") if line]
    assert lines[:55] == list(entries.values())
    assert lines[55:] == [{"checkpoint": c} for c in listed]
    result = verify_export(export, tmp_path, public_key=server_key(db))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: incident")
    assert "3 checkpoints signed by the given key, last #55" in result.stdout
    without_key = verify_export(export, tmp_path)
    assert without_key.returncode == 0, without_key.stdout + without_key.stderr
    assert "3 signed checkpoints not checked: give --public-key" in without_key.stderr


def test_a_checkpoint_after_ten_minutes_of_activity(api: TestClient, db: Database) -> None:
    incident_id = open_incident(api)["id"]
    log(api, incident_id)
    assert checkpoints(api, incident_id) == []
    # As if opened eleven minutes ago, with activity since.
    if db.is_sqlite:
        sql = "UPDATE incident SET opened_at = datetime(opened_at, '-11 minutes') WHERE id = :i"
    else:
        sql = "UPDATE incident SET opened_at = opened_at - INTERVAL '11 minutes' WHERE id = :i"
    raw(db, sql, i=incident_id)
    third = log(api, incident_id)
    assert [(c["number"], c["hash"]) for c in checkpoints(api, incident_id)] == [(3, third["hash"])]
    log(api, incident_id)  # the next is due ten minutes after this checkpoint
    assert len(checkpoints(api, incident_id)) == 1
    assert api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()["ok"] is True


def test_checkpoints_are_append_only(api: TestClient, db: Database) -> None:
    incident_id = open_incident(api)["id"]
    assert api.patch(PATCH.format(incident_id), json={"phase": "response"}).status_code == 200
    assert [c["number"] for c in checkpoints(api, incident_id)] == [2]
    attempts = [
        "UPDATE log_checkpoint SET number = 1",
        "DELETE FROM log_checkpoint",
    ]
    columns = "id, incident_id, number, hash, signed_at, key_fingerprint, version, signature"
    if db.is_sqlite:
        attempts += [
            f"REPLACE INTO log_checkpoint ({columns}) SELECT {columns} FROM log_checkpoint",
            (
                f"INSERT OR REPLACE INTO log_checkpoint ({columns}) SELECT id + 100, "
                "incident_id, number, hash, signed_at, key_fingerprint, version, 'forged' "
                "FROM log_checkpoint"
            ),
        ]
    else:
        attempts += [
            (
                f"INSERT INTO log_checkpoint ({columns}) SELECT {columns} FROM log_checkpoint "
                "ON CONFLICT (id) DO UPDATE SET signature = 'forged'"
            ),
            "TRUNCATE log_checkpoint",
        ]
    for sql in attempts:
        with pytest.raises(Exception, match="append-only"):
            raw(db, sql)
    listed = checkpoints(api, incident_id)
    assert [c["number"] for c in listed] == [2]
    assert api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()["ok"] is True


def test_a_changed_server_key_shows_as_another_fingerprint(
    api: TestClient, db: Database, tmp_path: Path
) -> None:
    incident_id = open_incident(api)["id"]
    assert api.patch(PATCH.format(incident_id), json={"phase": "response"}).status_code == 200
    old = db.signer
    assert old is not None
    db.signer = load_signer(key_file=None, data_dir=tmp_path / "other")
    try:
        result = api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()
    finally:
        db.signer = old
    assert result["ok"] is False
    assert [p["number"] for p in result["problems"]] == [2]
    assert f"signed by another key ({old.fingerprint})" in result["problems"][0]["problem"]
