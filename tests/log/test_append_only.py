"""The log is append-only in the database itself: raw SQL cannot change or remove an entry."""

from __future__ import annotations

import pytest
from _pytest.mark import ParameterSet
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import Database
from app.incidents import service as incidents
from app.log import verify as log_verify
from tests import factories
from tests.factories import Account
from tests.helpers import raw


@pytest.fixture
def incident_id(db: Database, staff: Account) -> int:
    incident = factories.incident(db, staff)
    factories.entry(db, staff, incident, kind="decision", text="Evacuate the school.")
    factories.entry(db, staff, incident, text="Buses are on their way.")
    return incident.id or 0


def _rows(db: Database) -> list[tuple[int, str, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT number, text, hash FROM log_entry ORDER BY number")).all()
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE log_entry SET text = 'Evacuate nothing.' WHERE number = 2",
        "UPDATE log_entry SET classification = 'open'",
        "UPDATE log_entry SET number = number + 100 WHERE number = 3",
        "DELETE FROM log_entry WHERE number = 2",
        "DELETE FROM log_entry",
    ],
)
def test_raw_update_and_delete_are_refused(db: Database, incident_id: int, sql: str) -> None:
    before = _rows(db)
    assert len(before) == 3
    with pytest.raises(DBAPIError, match="append-only"):
        raw(db, sql)
    assert _rows(db) == before


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite has no TRUNCATE
def test_truncate_is_refused_on_postgresql(db: Database, incident_id: int) -> None:
    assert not db.is_sqlite
    before = _rows(db)
    for sql in ("TRUNCATE log_entry", "TRUNCATE log_entry CASCADE", "TRUNCATE incident CASCADE"):
        with pytest.raises(DBAPIError, match="append-only"):
            raw(db, sql)
    assert _rows(db) == before


def test_deleting_the_incident_cannot_take_its_log_along(db: Database, incident_id: int) -> None:
    before = _rows(db)
    with pytest.raises(DBAPIError):
        raw(db, "DELETE FROM incident WHERE id = :id", id=incident_id)
    assert _rows(db) == before
    with db.read_session() as session:
        incident = incidents.get_incident(session, incident_id)
        assert log_verify.verify_chain(session, incident=incident, signer=db.signer).ok


def test_the_refusals_leave_a_verifiable_log(db: Database, incident_id: int) -> None:
    for sql in ("UPDATE log_entry SET text = 'x'", "DELETE FROM log_entry"):
        with pytest.raises(DBAPIError):
            raw(db, sql)
    with db.read_session() as session:
        incident = incidents.get_incident(session, incident_id)
        result = log_verify.verify_chain(session, incident=incident, signer=db.signer)
    assert result.ok
    assert result.checked == 3


# --- around the triggers: REPLACE, upserts, the events, the incident's counters ------------------

_ENTRY = (
    "incident_id, number, kind, text, classification, author_id, author_name, corrects,"
    " occurred_at, recorded_at, content_digest, prev_hash, hash, request_key, salt, message"
)
_COPY_3 = f"SELECT {_ENTRY} FROM log_entry WHERE number = 3"
_EVENT = "incident_id, seq, type, data, created_at"
_COPY_EVENT = f"SELECT {_EVENT} FROM event WHERE seq = 4"
_UPSERT = f"INSERT INTO log_entry ({_ENTRY}) {_COPY_3} ON CONFLICT (incident_id, number) DO "
_BACK_ONE = (
    "UPDATE incident SET log_count = log_count - 1,"
    " log_head_hash = (SELECT hash FROM log_entry WHERE number = 2)"
)


def _sqlite(sql: str, id: str) -> list[ParameterSet]:
    return [pytest.param("sqlite", sql, id=f"sqlite-{id}")]


def _postgres(sql: str, id: str) -> list[ParameterSet]:
    return [pytest.param("postgres", sql, id=f"postgres-{id}", marks=pytest.mark.postgres)]


def _both(sql: str, id: str) -> list[ParameterSet]:
    return _sqlite(sql, id) + _postgres(sql, id)


AROUND_THE_TRIGGERS = [
    param
    for params in [
        # log entries: every way SQLite's REPLACE conflict resolution removes a row
        _sqlite("REPLACE INTO log_entry SELECT * FROM log_entry WHERE number = 3", "replace-id"),
        _sqlite(f"INSERT OR REPLACE INTO log_entry ({_ENTRY}) {_COPY_3}", "replace-number"),
        _sqlite(  # the attack in issue 9: #2 again under #3's id takes both away, leaves one
            "REPLACE INTO log_entry SELECT (SELECT id FROM log_entry WHERE number = 3),"
            f" {_ENTRY} FROM log_entry WHERE number = 2",
            "replace-tail",
        ),
        _both(_UPSERT + "UPDATE SET text = 'forged'", "upsert"),
        _both(_UPSERT + "UPDATE SET number = 99", "upsert-renumber"),
        _sqlite("UPDATE OR REPLACE log_entry SET number = 2 WHERE number = 3", "update-or-replace"),
        _postgres(
            "MERGE INTO log_entry e USING (SELECT 3 AS n) s ON e.number = s.n WHEN MATCHED THEN DELETE",
            "merge-delete",
        ),
        _postgres(
            "MERGE INTO log_entry e USING (SELECT 3 AS n) s ON e.number = s.n"
            " WHEN MATCHED THEN UPDATE SET text = 'forged'",
            "merge-update",
        ),
        # events: the second record of the log's length
        _sqlite("REPLACE INTO event SELECT * FROM event WHERE seq = 4", "event-replace-id"),
        _sqlite(f"INSERT OR REPLACE INTO event ({_EVENT}) {_COPY_EVENT}", "event-replace-seq"),
        _both(
            f"INSERT INTO event ({_EVENT}) {_COPY_EVENT}"
            " ON CONFLICT (incident_id, seq) DO UPDATE SET type = 'x'",
            "event-upsert",
        ),
        _both("UPDATE event SET type = 'x' WHERE seq = 4", "event-update"),
        _both("DELETE FROM event WHERE seq = 4", "event-delete"),
        _postgres("TRUNCATE event", "event-truncate"),
        # the incident's counters: the third record, which may only move forward
        _both(_BACK_ONE, "counters-back"),
        _both("UPDATE incident SET log_head_hash = 'forged'", "head-hash"),
        _both("UPDATE incident SET log_count = log_count + 1", "count-ahead"),
        _both("UPDATE incident SET event_seq = event_seq - 1", "seq-back"),
        _both("UPDATE incident SET event_seq = event_seq + 1", "seq-ahead"),
        _both("UPDATE incident SET id = id + 100", "incident-id"),
        _sqlite("REPLACE INTO incident SELECT * FROM incident", "incident-replace"),
        _postgres(
            "INSERT INTO incident SELECT * FROM incident ON CONFLICT (id) DO UPDATE SET log_count = 2",
            "incident-upsert",
        ),
    ]
    for param in params
]


def _state(db: Database) -> tuple[object, ...]:
    with db.engine.connect() as conn:
        return (
            conn.execute(text("SELECT * FROM log_entry ORDER BY id")).all(),
            conn.execute(text("SELECT id, incident_id, seq, type FROM event ORDER BY id")).all(),
            conn.execute(
                text("SELECT id, log_count, log_head_hash, event_seq FROM incident")
            ).all(),
        )


@pytest.mark.parametrize(("database_url", "sql"), AROUND_THE_TRIGGERS, indirect=["database_url"])
def test_no_way_around_the_triggers(db: Database, incident_id: int, sql: str) -> None:
    before = _state(db)
    with pytest.raises(DBAPIError, match="append-only|counters|empty log"):
        raw(db, sql)
    assert _state(db) == before
    with db.read_session() as session:
        incident = incidents.get_incident(session, incident_id)
        assert log_verify.verify_chain(session, incident=incident, signer=db.signer).ok


def test_the_app_still_moves_the_counters(db: Database, staff: Account, incident_id: int) -> None:
    """The guards refuse steps back, not the app's own steps forward."""
    with db.read_session() as session:
        incident = incidents.get_incident(session, incident_id)
    factories.entry(db, staff, incident, text="A fourth entry.")
    with db.read_session() as session:
        incident = incidents.get_incident(session, incident_id)
        assert (incident.log_count, incident.event_seq) == (4, 5)
        assert log_verify.verify_chain(session, incident=incident, signer=db.signer).ok
