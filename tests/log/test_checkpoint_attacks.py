"""The three attacks checkpoints are for, by someone who owns the database but not the key.

Each leaves a hash chain that verifies on its own; `GET …/log/verify`, `samvirke verify` and
`tools/verify_log.py --public-key` must each still fail it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from app.config import Settings
from app.db import Database, utcnow
from app.log import checkpoints as checkpoints_module
from app.log.signing import Signer, load_signer
from tests.helpers import log, open_incident
from tests.log import tamper
from tests.log.offline import verify_export
from tests.log.test_checkpoints import checkpoints, server_key
from tests.support.server import run_cli


@pytest.fixture
def incident_id(api: TestClient) -> int:
    """54 entries: checkpoints at #50 (every 50) and #51 (a phase change)."""
    incident = open_incident(api)["id"]
    for n in range(2, 51):
        log(api, incident, kind="decision" if n % 7 == 0 else "information", text=f"Report {n}.")
    assert api.patch(f"/api/v1/incidents/{incident}", json={"phase": "response"}).status_code == 200
    log(api, incident, text="Report 52.")  # after the phase change's #51
    log(api, incident, text="Report 53.")
    log(api, incident, text="Report 54.")
    assert [c["number"] for c in checkpoints(api, incident)] == [50, 51]
    return int(incident)


def online(api: TestClient, incident_id: int) -> dict[str, Any]:
    result: dict[str, Any] = api.get(f"/api/v1/incidents/{incident_id}/log/verify").json()
    return result


def cli_verify(
    settings: Settings, incident_id: int, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "verify",
        "--incident",
        str(incident_id),
        cwd=tmp_path,
        database_url=settings.resolved_database_url,
        data_dir=settings.data_dir,  # where the server keeps its key
    )


def assert_caught(
    api: TestClient,
    db: Database,
    settings: Settings,
    incident_id: int,
    tmp_path: Path,
    expected: str,
) -> None:
    """The chain alone verifies; the checkpoints fail online, in the CLI and offline.

    Online the events' cross-check (app.log.integrity) may tell as well, since this attacker
    leaves the events as they were; offline, where there are no events, the checkpoints alone
    catch it."""
    result = online(api, incident_id)
    assert result["ok"] is False
    problems = [p["problem"] for p in result["problems"]]
    # the chain itself is fine
    assert all("checkpoint" in p or "event" in p for p in problems), problems
    assert any(expected in p for p in problems), problems

    cli = cli_verify(settings, incident_id, tmp_path)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "BROKEN" in cli.stdout and expected in cli.stdout

    export = api.get(f"/api/v1/incidents/{incident_id}/log/export").text
    offline = verify_export(export, tmp_path, public_key=server_key(db))
    assert offline.returncode == 1, offline.stdout + offline.stderr
    assert offline.stdout.startswith("FAILED")


def test_untouched_log_verifies_everywhere(
    api: TestClient, db: Database, settings: Settings, incident_id: int, tmp_path: Path
) -> None:
    assert online(api, incident_id)["ok"] is True
    cli = cli_verify(settings, incident_id, tmp_path)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    export = api.get(f"/api/v1/incidents/{incident_id}/log/export").text
    offline = verify_export(export, tmp_path, public_key=server_key(db))
    assert offline.returncode == 0, offline.stdout + offline.stderr


def test_a_forged_back_dated_entry_with_the_chain_rebuilt(
    api: TestClient, db: Database, settings: Settings, incident_id: int, tmp_path: Path
) -> None:
    def insert_forged(rows: list[tamper.Row]) -> list[tamper.Row]:
        after = rows[9]  # slipped in after #10, at a time between #10 and #11
        forged = {
            **after,
            "kind": "decision",
            "text": "Evacuation of Nordbyen ordered.",
            "request_key": None,
            "occurred_at": after["occurred_at"] + timedelta(microseconds=1),
            "recorded_at": after["recorded_at"] + timedelta(microseconds=1),
        }
        return [*rows[:10], forged, *rows[10:]]

    tamper.rewrite_log(db, incident_id, insert_forged)
    assert_caught(
        api, db, settings, incident_id, tmp_path, "no longer has the hash that was signed"
    )


def test_a_removed_tail_with_the_counters_rewound(
    api: TestClient, db: Database, settings: Settings, incident_id: int, tmp_path: Path
) -> None:
    tamper.rewrite_log(db, incident_id, lambda rows: rows[:49])
    assert_caught(api, db, settings, incident_id, tmp_path, "names entry #50, which does not exist")


@pytest.mark.parametrize("then", ["keep", "remove", "re-sign"])
def test_a_rebuilt_chain(
    api: TestClient,
    db: Database,
    settings: Settings,
    incident_id: int,
    tmp_path: Path,
    then: str,
) -> None:
    """An old decision rewritten; then the checkpoints kept, removed, or re-signed by a key of
    the attacker's own."""

    def rewrite(rows: list[tamper.Row]) -> list[tamper.Row]:
        assert rows[13]["kind"] == "decision"
        rows[13]["text"] = "No evacuation."
        return rows

    tamper.rewrite_log(db, incident_id, rewrite)
    expected = "no longer has the hash that was signed"
    if then == "remove":
        tamper.delete_checkpoints(db, incident_id)
        expected = "54 entries after the last checkpoint"
    elif then == "re-sign":
        tamper.delete_checkpoints(db, incident_id)
        _sign(db, incident_id, load_signer(key_file=None, data_dir=tmp_path / "attacker"))
        expected = "signed by another key"
    assert_caught(api, db, settings, incident_id, tmp_path, expected)


def _sign(db: Database, incident_id: int, signer: Signer) -> None:
    """Checkpoints at the rebuilt heads #50 and #54, made the server's way with another key."""
    rows = {row["number"]: row for row in tamper.entries(db, incident_id)}
    with db.engine.begin() as conn:
        for number in (50, 54):
            fields = {
                "incident_id": incident_id,
                "number": number,
                "hash": rows[number]["hash"],
                "signed_at": utcnow(),
                "key_fingerprint": signer.fingerprint,
                "version": 1,
            }
            signature = signer.sign(checkpoints_module.signed_bytes(**fields))
            conn.execute(insert(tamper.CHECKPOINTS), {**fields, "signature": signature})


def test_a_wrong_public_key_fails_offline(
    api: TestClient, incident_id: int, tmp_path: Path
) -> None:
    other = load_signer(key_file=None, data_dir=tmp_path / "other")
    export = api.get(f"/api/v1/incidents/{incident_id}/log/export").text
    result = verify_export(export, tmp_path, public_key=other.public_pem)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checkpoint #50: signed by key" in result.stdout
    assert "not the given one" in result.stdout


def test_a_forged_signature_fails_offline(
    api: TestClient, db: Database, incident_id: int, tmp_path: Path
) -> None:
    """The export's own checkpoint line edited to name the forger's head: the signature fails."""
    export = api.get(f"/api/v1/incidents/{incident_id}/log/export").text
    edited = _edit_checkpoint(export, lambda c: {**c, "signed_at": "2026-01-01T00:00:00Z"})
    result = verify_export(edited, tmp_path, public_key=server_key(db))
    assert result.returncode == 1, result.stdout
    assert "checkpoint #50: the signature does not verify" in result.stdout


def _edit_checkpoint(export: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> str:
    lines = []
    for line in export.split("\n"):
        if line.startswith('{"checkpoint": ') and '"number": 50' in line:
            line = json.dumps({"checkpoint": change(json.loads(line)["checkpoint"])})
        lines.append(line)
    return "\n".join(lines)
