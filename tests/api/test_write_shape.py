"""Every write has one shape: the service's action owns its transaction (app/actions.py).

Routes, pages, the live push and the CLI never hold a write session: what they are given
refuses to write, and the one door to a write session is in the services' hands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update
from sqlalchemy.engine import Connection

import app
from app.accounts import tokens
from app.accounts.models import ApiToken, Role, User
from app.actions import transaction
from app.db import Database, ReadOnly
from tests.factories import Account
from tests.helpers import open_incident
from tests.web.helpers import HTMX, sign_in

APP = Path(app.__file__).parent
DELIVERY = [
    *sorted((APP / "api").glob("*.py")),
    *sorted((APP / "web").glob("*.py")),
    *sorted((APP / "live").glob("*.py")),
    APP / "cli.py",
    APP / "main.py",
    APP / "deps.py",
]


@pytest.mark.parametrize("path", DELIVERY, ids=lambda p: str(p.relative_to(APP)))
def test_delivery_code_opens_no_write_transaction(path: Path) -> None:
    source = path.read_text()
    assert "app.actions" not in source, "call a service's action instead"
    assert "_write_session" not in source


def test_a_read_session_refuses_orm_and_core_writes(db: Database) -> None:
    with db.read_session() as session:
        session.add(User(email="new@example.no", name="New", role=Role.staff))
        with pytest.raises(ReadOnly):
            session.flush()
    with db.read_session(snapshot=False) as session, pytest.raises(ReadOnly):
        session.execute(update(ApiToken).values(name="renamed"))


def test_an_action_inside_an_action_is_refused_at_once(db: Database) -> None:
    """It would wait for its own write lock (SQLite), or commit half its work (PostgreSQL)."""
    with (
        transaction(db),
        pytest.raises(RuntimeError, match="inside an action"),
        transaction(db),
    ):
        pass
    with transaction(db):  # and the thread may write again afterwards
        pass


@contextmanager
def write_transactions(db: Database) -> Iterator[list[int]]:
    """Counts the write transactions begun meanwhile (SQLite: each takes the write lock)."""
    begun: list[int] = []

    def count(_conn: Connection) -> None:
        begun.append(1)

    engine = db._write_engine
    event.listen(engine, "begin", count)
    try:
        yield begun
    finally:
        event.remove(engine, "begin", count)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_write_takes_the_write_lock_once_and_answers_outside_it(
    monkeypatch: pytest.MonkeyPatch, api: TestClient, db: Database
) -> None:
    """The answer (the incident as changed, the admin page) is read after the commit, in a
    read session: not in a second write transaction that waits for the lock again."""
    monkeypatch.setattr(tokens, "claim_touch", lambda *_: False)  # no last-use write meanwhile
    with write_transactions(db) as begun:
        incident = open_incident(api)
    assert len(begun) == 1
    with write_transactions(db) as begun:
        changed = api.patch(f"/api/v1/incidents/{incident['id']}", json={"level": "red"})
    assert (changed.status_code, changed.json()["level"], len(begun)) == (200, "red", 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_page_write_takes_the_write_lock_once(
    client: TestClient, db: Database, admin: Account, staff: Account
) -> None:
    token = sign_in(client, admin)
    with write_transactions(db) as begun:
        page = client.post(
            f"/admin/users/{staff.user.id}",
            data={"restricted": "1", "csrf_token": token},
            headers=HTMX,
        )
    assert (page.status_code, len(begun)) == (200, 1)
