"""Every write has one shape: the service's action owns its transaction (app/actions.py).

Routes, pages, the live push and the CLI never hold a write session: what they are given
refuses to write, and the one door to a write session is in the services' hands.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

import app
from app.accounts.models import ApiToken, Role, User
from app.actions import transaction
from app.db import Database, ReadOnly

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
