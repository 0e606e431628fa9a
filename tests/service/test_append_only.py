"""The log is append-only in the database itself: raw SQL cannot change or remove an entry."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import Database
from app.incidents import service as incidents
from app.log import service as log_service
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
        assert log_service.verify_chain(session, incident=incident).ok


def test_the_refusals_leave_a_verifiable_log(db: Database, incident_id: int) -> None:
    for sql in ("UPDATE log_entry SET text = 'x'", "DELETE FROM log_entry"):
        with pytest.raises(DBAPIError):
            raw(db, sql)
    with db.read_session() as session:
        incident = incidents.get_incident(session, incident_id)
        result = log_service.verify_chain(session, incident=incident)
    assert result.ok
    assert result.checked == 3
