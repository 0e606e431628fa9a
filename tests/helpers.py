"""Small assertions shared by the API, service and CLI tests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx2
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


def disable_append_only(db: Database) -> None:
    """Remove the append-only guard, as someone with write access to the database file could."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.execute(text("DROP TRIGGER log_entry_no_update"))
            conn.execute(text("DROP TRIGGER log_entry_no_delete"))
        else:
            conn.execute(text("ALTER TABLE log_entry DISABLE TRIGGER USER"))


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
