"""tools/verify_log.py and chain version 2: the salt and the message are checked with the
content, and an export that hides an open entry is flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Account
from tests.helpers import bearer
from tests.tools.test_verify_log import dump, parse, reported, run


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
    result = run(str(path))
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
    assert reported(run(str(tmp_path / "log.jsonl"))) == {2}


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
        assert reported(run(str(tmp_path / "log.jsonl"))) == {number}, out
        return out

    assert "salt must be" in broken(2, salt=None)
    assert "content" in broken(2, salt="0" * 32)  # a salt, but not the one hashed
    assert "a version 1 entry has no salt" in broken(2, v=1)
    assert "v must be one of 1, 2" in broken(3, v=3)
    assert "only a system entry carries a message" in broken(3, message=entries[0]["message"])
    assert "content" in broken(1, message={**entries[0]["message"], "params": {"level": "red"}})
