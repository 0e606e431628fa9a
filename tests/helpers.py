"""Small helpers shared by the tests: API calls, problem checks, the chain, raw SQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db import Database

PROBLEM = "application/problem+json"
GENESIS = "0" * 64


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(
    response: httpx2.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and code); returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"].startswith("urn:samvirke:problem:")
    if code is not None:
        assert body["code"] == code, body
    return body


def open_incident(api: TestClient, **fields: Any) -> dict[str, Any]:
    """Open an incident over the JSON API; returns its body."""
    body = {"title": "Storm Ingunn", **fields}
    response = api.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    incident: dict[str, Any] = response.json()
    return incident


def log(api: TestClient, incident_id: int, **fields: Any) -> dict[str, Any]:
    """Append an entry over the JSON API; returns its body."""
    body = {"kind": "information", "text": "Power is out in Nordbyen.", **fields}
    response = api.post(f"/api/v1/incidents/{incident_id}/log", json=body)
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


def all_entries(
    client: TestClient, incident_id: int, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The whole log as the client may see it, in one page."""
    response = client.get(
        f"/api/v1/incidents/{incident_id}/log", params={"limit": 1000}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["next_after"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def error_fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no offset"
    return parsed


# --- an independent check of the hash chain, from the documented encoding --------------------


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _utc(value: str) -> str:
    return parse_time(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_chain(entries: Iterable[dict[str, Any]]) -> None:
    """Recompute every visible digest and every hash of a public log (list or export lines).

    Written from the encoding documented in app/log/chain.py rather than by calling it, so a drift between the
    app and its documented encoding shows up here.
    """
    prev = GENESIS
    for expected, item in enumerate(entries, start=1):
        assert item["number"] == expected, f"gap before #{item['number']}"
        version = item.get("v", 1)
        if not item["withheld"]:
            author = item["author"]
            content = {
                "author": None if author is None else {"id": author["id"], "name": author["name"]},
                "corrects": item["corrects"],
                "kind": item["kind"],
                "text": item["text"],
            }
            if version == 2:  # a salt, and a system entry's message instead of its text
                message = item["message"]
                content.update(salt=item["salt"], message=message)
                content["text"] = None if message is not None else item["text"]
            digest = hashlib.sha256(_canonical(content)).hexdigest()
            assert digest == item["content_digest"], f"#{expected}: digest"
        envelope = {
            "classification": item["classification"],
            "content_digest": item["content_digest"],
            "incident_id": item["incident_id"],
            "number": item["number"],
            "occurred_at": _utc(item["occurred_at"]),
            "prev_hash": prev,
            "recorded_at": _utc(item["recorded_at"]),
            "v": version,
        }
        assert item["prev_hash"] == prev, f"#{expected}: link"
        assert hashlib.sha256(_canonical(envelope)).hexdigest() == item["hash"], (
            f"#{expected}: hash"
        )
        prev = item["hash"]


# --- reaching under the app, the way an attacker with database access would ------------------


def drop_triggers(db: Database, *tables: str) -> None:
    """Drop every trigger on these tables (on every table if none is named), as their owner can.

    The names are read in a transaction of their own: on SQLite a transaction that reads and
    then writes fails at once if the app committed in between (it writes a token's last use in
    the background), where one that starts with its write waits for its turn.
    """
    if db.is_sqlite:
        query = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
    else:
        query = "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
    with db.engine.connect() as conn:
        found = [(t, n) for t, n in conn.execute(text(query)) if not tables or t in tables]
    with db.engine.begin() as conn:
        for table, name in found:
            on = "" if db.is_sqlite else f" ON {table}"
            conn.execute(text(f'DROP TRIGGER "{name}"{on}'))


def disable_append_only(db: Database) -> None:
    """Remove every guarding trigger (on the log, the events and the incident's counters), as
    the owner of the tables (or of the SQLite file) could."""
    if db.is_sqlite:
        drop_triggers(db)
        return
    with db.engine.begin() as conn:
        for table in ("log_entry", "event", "incident"):
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


def cut_the_tail(db: Database, incident_id: int) -> None:
    """Issue 9's attack: take away the last entry and set the counters back to the one before.

    On SQLite one REPLACE did it (the one before again, under the last one's id, which takes
    both away); on PostgreSQL a DELETE. The table owner switches the guards off first
    (migration 0003 refuses the REPLACE, the DELETE and the step back of the counters).
    """
    disable_append_only(db)
    key = "incident_id = :i AND number = (SELECT log_count FROM incident WHERE id = :i)"
    if db.is_sqlite:
        raw(
            db,
            f"REPLACE INTO log_entry SELECT (SELECT id FROM log_entry WHERE {key}),"
            " incident_id, number, kind, text, classification, author_id, author_name, corrects,"
            " occurred_at, recorded_at, content_digest, prev_hash, hash, request_key, salt, message"
            f" FROM log_entry WHERE {key.replace('log_count', 'log_count - 1')}",
            i=incident_id,
        )
    else:
        raw(db, f"DELETE FROM log_entry WHERE {key}", i=incident_id)
    raw(
        db,
        "UPDATE incident SET log_count = log_count - 1, log_head_hash = (SELECT hash FROM"
        " log_entry WHERE incident_id = :i AND number = incident.log_count - 1) WHERE id = :i",
        i=incident_id,
    )


def raw(db: Database, sql: str, **params: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def events(db: Database, incident_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT seq, type, data FROM event WHERE incident_id = :i ORDER BY seq"),
            {"i": incident_id},
        ).all()
    result = []
    for seq, type_, data in rows:
        result.append((seq, type_, json.loads(data) if isinstance(data, str) else data))
    return result
