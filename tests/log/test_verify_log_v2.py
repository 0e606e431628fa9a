"""tools/verify_log.py and chain version 2: the salt and the message are checked with the
content, and an export that hides an open entry is flagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.log import chain
from tests.factories import Account
from tests.helpers import bearer
from tests.log.offline import verify_log
from tests.log.test_verify_log import dump, parse, reported


def small_export(client: TestClient, staff: Account) -> list[dict[str, Any]]:
    """#1 system (v2, with a message), #2 an open decision, #3 an internal one."""
    auth = bearer(staff.token)
    incident = client.post("/api/v1/incidents", json={"title": "Flom"}, headers=auth).json()
    log = f"/api/v1/incidents/{incident['id']}/log"
    for body in (
        {"kind": "decision", "text": "Stengt vei ved Elvebakken.", "classification": "open"},
        {"kind": "decision", "text": "Evakuer Nordbyen."},
    ):
        assert client.post(log, json=body, headers=auth).status_code == 201
    return parse(client.get(f"{log}/export", headers=auth).text)


def check(tmp_path: Path, entries: list[dict[str, Any]]) -> tuple[int, str]:
    path = tmp_path / "log.jsonl"
    path.write_text(dump(entries), encoding="utf-8")
    result = verify_log(str(path))
    return result.returncode, result.stdout


def test_an_open_entry_marked_withheld_is_flagged(
    client: TestClient, staff: Account, tmp_path: Path
) -> None:
    entries = small_export(client, staff)
    assert check(tmp_path, entries)[0] == 0
    hidden = entries[1]
    assert hidden["classification"] == "open"
    hidden.update(withheld=True, kind=None, text=None, author=None, system=None, salt=None)
    code, out = check(tmp_path, entries)
    assert code == 1
    assert "#2: withheld although its classification is open" in out
    assert reported(verify_log(str(tmp_path / "log.jsonl"))) == {2}


def test_salt_message_and_version_are_checked(
    client: TestClient, staff: Account, tmp_path: Path
) -> None:
    entries = small_export(client, staff)
    assert [e["v"] for e in entries] == [2, 2, 2]
    assert entries[0]["message"]["msgid"] == "Incident opened at alert level {level}."

    def broken(number: int, **changes: Any) -> str:
        copy = [dict(e) for e in entries]
        copy[number - 1].update(changes)
        code, out = check(tmp_path, copy)
        assert code == 1, out
        assert reported(verify_log(str(tmp_path / "log.jsonl"))) == {number}, out
        return out

    assert "salt must be" in broken(2, salt=None)
    assert "content" in broken(2, salt="0" * 32)  # a salt, but not the one hashed
    assert "a version 1 entry has no salt" in broken(2, v=1)
    assert "v must be one of 1, 2" in broken(3, v=3)
    assert "only a system entry carries a message" in broken(3, message=entries[0]["message"])
    assert "content" in broken(1, message={**entries[0]["message"], "params": {"level": "red"}})


def test_the_version_2_worked_example_in_the_docs_is_true(tmp_path: Path) -> None:
    """docs/log-chain.md: the version 2 export verifies, and app/log/chain.py gives its hashes."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "log-chain.md").read_text("utf-8")
    lines = [line for line in doc.split("\n") if line.startswith('{"incident_id": 8, ')]
    assert len(lines) == 2
    path = tmp_path / "example-v2.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first, second = (json.loads(line) for line in lines)
    result = verify_log(str(path), "--head", second["hash"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() in doc

    digest = chain.content_digest(
        kind="system",
        text=None,
        author_id=None,
        author_name=None,
        corrects=None,
        salt=first["salt"],
        message={**first["message"]},
    )
    assert digest == first["content_digest"]
    # #2 as its cleared reader has it: the digest the uncleared reader cannot match.
    digest = chain.content_digest(
        kind="decision",
        text="yes",
        author_id=1,
        author_name="Anne Admin",
        corrects=None,
        salt="c41d7a09e3b25f86a0d4e9b1f7c3528d",
    )
    assert digest == second["content_digest"]
    assert (
        chain.entry_hash(
            version=2,
            incident_id=8,
            number=2,
            classification="restricted",
            occurred_at=datetime(2026, 12, 3, 18, 4, tzinfo=UTC),
            recorded_at=datetime(2026, 12, 3, 18, 4, 37, 120458, tzinfo=UTC),
            digest=digest,
            prev_hash=first["hash"],
        )
        == second["hash"]
    )
