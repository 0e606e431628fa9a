"""Tamper evidence: whoever gets past the triggers and edits the database is caught by verify."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db import Database
from app.log import chain
from app.log.models import LogEntry
from tests.helpers import cut_the_tail, disable_append_only, events, log, raw


@pytest.fixture
def two_logs(api: TestClient) -> tuple[int, int]:
    """Two incidents with four entries each; the first is the one that gets tampered with."""
    ids = []
    for title in ("Flom", "Brann"):
        incident_id = api.post("/api/v1/incidents", json={"title": title}).json()["id"]
        log(api, incident_id, kind="decision", text="Evacuate Nordbyen.")
        log(api, incident_id, kind="action", text="Buses ordered.")
        log(api, incident_id, kind="information", text="Road 3 is open.")
        ids.append(incident_id)
    return ids[0], ids[1]


def _verify(api: TestClient, incident_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/incidents/{incident_id}/log/verify")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _problem_numbers(result: dict[str, Any]) -> set[int]:
    return {p["number"] for p in result["problems"]}


def _caught(
    api: TestClient, db: Database, two_logs: tuple[int, int], *statements: str, **params: Any
) -> dict[str, Any]:
    """Run `statements` on the first log (`:i`) with the guards off: verify must fail that log
    and still pass the other one. Returns the failed log's result."""
    tampered, untouched = two_logs
    disable_append_only(db)
    for sql in statements:
        raw(db, sql, i=tampered, **params)
    result = _verify(api, tampered)
    assert result["ok"] is False, result
    assert _verify(api, untouched)["ok"] is True
    return result


def test_an_untouched_log_verifies(api: TestClient, two_logs: tuple[int, int]) -> None:
    for incident_id in two_logs:
        result = _verify(api, incident_id)
        assert result["ok"] is True
        assert result["incident_id"] == incident_id
        assert result["checked"] == 4
        assert result["problems"] == []
        assert result["head"]["number"] == 4


def test_a_new_incident_verifies(api: TestClient) -> None:
    # Opening writes #1, so the smallest log has one entry.
    incident_id = api.post("/api/v1/incidents", json={"title": "Flom"}).json()["id"]
    result = _verify(api, incident_id)
    assert (result["ok"], result["checked"], result["head"]["number"]) == (True, 1, 1)


@pytest.mark.parametrize(
    ("sql", "number"),
    [
        ("UPDATE log_entry SET text = 'Evacuate nobody.' WHERE incident_id = :i AND number = 2", 2),
        ("UPDATE log_entry SET kind = 'information' WHERE incident_id = :i AND number = 2", 2),
        (
            "UPDATE log_entry SET author_name = 'Someone Else' WHERE incident_id = :i AND number = 3",
            3,
        ),
        ("UPDATE log_entry SET classification = 'open' WHERE incident_id = :i AND number = 3", 3),
        (
            "UPDATE log_entry SET occurred_at = occurred_at - INTERVAL '1 hour' WHERE incident_id = :i AND number = 2",
            2,
        ),
        ("UPDATE log_entry SET corrects = 1 WHERE incident_id = :i AND number = 4", 4),
    ],
    ids=["text", "kind", "author", "classification", "occurred_at", "corrects"],
)
def test_an_edited_entry_is_caught(
    api: TestClient, db: Database, two_logs: tuple[int, int], sql: str, number: int
) -> None:
    if db.is_sqlite:
        sql = sql.replace("occurred_at - INTERVAL '1 hour'", "datetime(occurred_at, '-1 hour')")
    result = _caught(api, db, two_logs, sql)
    assert number in _problem_numbers(result), result


def test_a_deleted_middle_entry_is_caught(
    api: TestClient, db: Database, two_logs: tuple[int, int]
) -> None:
    result = _caught(
        api, db, two_logs, "DELETE FROM log_entry WHERE incident_id = :i AND number = 2"
    )
    assert 3 in _problem_numbers(result)  # #3 no longer follows #1


def test_a_deleted_last_entry_is_caught(
    api: TestClient, db: Database, two_logs: tuple[int, int]
) -> None:
    result = _caught(
        api, db, two_logs, "DELETE FROM log_entry WHERE incident_id = :i AND number = 4"
    )
    assert result["head"]["number"] == 3  # the incident row still knows where its log ended


def test_a_consistently_forged_entry_breaks_the_next_link(
    api: TestClient, db: Database, two_logs: tuple[int, int]
) -> None:
    """Rewriting #2 with a fresh digest and hash still leaves #3 pointing at the old #2."""
    tampered, _ = two_logs
    disable_append_only(db)
    with db.engine.begin() as conn:
        row = (
            conn.execute(
                text("SELECT * FROM log_entry WHERE incident_id = :i AND number = 2"),
                {"i": tampered},
            )
            .mappings()
            .one()
        )
    with db.read_session() as session:
        entry = session.get(LogEntry, row["id"])
        assert entry is not None
        forged_text = "Evacuate nobody."
        digest = chain.content_digest(
            kind=entry.kind,
            text=forged_text,
            author_id=entry.author_id,
            author_name=entry.author_name,
            corrects=entry.corrects,
            salt=entry.salt,
        )
        forged_hash = chain.entry_hash(
            version=chain.version_of(entry.salt),
            incident_id=tampered,
            number=2,
            classification=entry.classification,
            occurred_at=entry.occurred_at,
            recorded_at=entry.recorded_at,
            digest=digest,
            prev_hash=entry.prev_hash,
        )
    raw(
        db,
        "UPDATE log_entry SET text = :t, content_digest = :d, hash = :h WHERE id = :id",
        t=forged_text,
        d=digest,
        h=forged_hash,
        id=row["id"],
    )
    result = _verify(api, tampered)
    assert result["ok"] is False
    # #3 still points at the old #2, and #2's log.appended event remembers its old hash.
    assert _problem_numbers(result) == {2, 3}


def test_verify_is_read_only_and_repeatable(api: TestClient, two_logs: tuple[int, int]) -> None:
    first = _verify(api, two_logs[0])
    assert _verify(api, two_logs[0]) == first
    assert api.get(f"/api/v1/incidents/{two_logs[0]}").json()["log_count"] == 4


# --- a removed tail: the chain is shorter but valid; the events and the counters remember -----


def test_a_removed_tail_with_its_counters_set_back_is_caught(
    api: TestClient, db: Database, two_logs: tuple[int, int]
) -> None:
    cut_the_tail(db, two_logs[0])
    result = _caught(api, db, two_logs)
    assert result["head"]["number"] == 3  # a valid chain of three, and the counters agree …
    assert 4 in _problem_numbers(result), result  # … but the log.appended event of #4 is there


def test_a_removed_tail_with_its_event_is_caught_by_the_event_counter(
    api: TestClient, db: Database, two_logs: tuple[int, int]
) -> None:
    cut_the_tail(db, two_logs[0])
    result = _caught(api, db, two_logs, "DELETE FROM event WHERE incident_id = :i AND seq = 5")
    assert any("the incident says 5" in p["problem"] for p in result["problems"]), result


def test_an_event_with_another_hash_is_caught(
    api: TestClient, db: Database, two_logs: tuple[int, int]
) -> None:
    forged = json.dumps({"number": 3, "classification": "internal", "hash": "f" * 64})
    sql = "UPDATE event SET data = :d WHERE incident_id = :i AND seq = 4"
    assert 3 in _problem_numbers(_caught(api, db, two_logs, sql, d=forged))


def test_a_gap_in_the_events_is_caught(
    api: TestClient, db: Database, two_logs: tuple[int, int]
) -> None:
    result = _caught(api, db, two_logs, "DELETE FROM event WHERE incident_id = :i AND seq = 1")
    assert any("events 1…1 are missing" in p["problem"] for p in result["problems"]), result


def test_events_written_before_the_hash_was_recorded_are_checked_by_number(
    api: TestClient, db: Database, two_logs: tuple[int, int]
) -> None:
    tampered, _ = two_logs
    disable_append_only(db)
    for number, event in zip(range(1, 5), events(db, tampered)[1:], strict=True):
        old = json.dumps({"number": number, "classification": event[2]["classification"]})
        raw(
            db,
            "UPDATE event SET data = :d WHERE incident_id = :i AND seq = :s",
            d=old,
            i=tampered,
            s=event[0],
        )
    assert _verify(api, tampered)["ok"] is True
    result = _caught(
        api,
        db,
        two_logs,
        "DELETE FROM log_entry WHERE incident_id = :i AND number = 4",
        "UPDATE incident SET log_count = 3, log_head_hash ="
        " (SELECT hash FROM log_entry WHERE incident_id = :i AND number = 3) WHERE id = :i",
    )
    assert 4 in _problem_numbers(result)
