"""Test data made through the services, so chains, numbers and events stay true.

Tests that need data make it here rather than calling the services themselves: when a
service's signature changes, this file is the one place to follow it. Tests that tamper on
purpose write plain SQL (tests/helpers.py, tests/log/tamper.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts import service as accounts
from app.accounts import tokens
from app.accounts.models import Role, User, UserCreate
from app.actions import transaction
from app.db import Database
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentChange, IncidentCreate
from app.log import service as log_service
from app.log.models import Classification, EntryKind, LogEntryCreate, LogEntryPublic

PASSWORD = "correct horse battery"


@dataclass
class Account:
    user: User
    token: str
    email: str
    password: str = PASSWORD


def account(
    db: Database,
    *,
    name: str,
    email: str,
    role: str = "staff",
    restricted: bool = False,
    password: str = PASSWORD,
    language: str | None = None,
) -> Account:
    """A user with a password and an API token (and a chosen page language)."""
    user = accounts.create_user(
        db,
        data=UserCreate(email=email, name=name, role=Role(role), restricted=restricted),
        password=password,
    )
    if language is not None:
        user = accounts.set_language(db, user=user, language=language)
    token = tokens.create_api_token(db, user=user, name="tests")
    return Account(user=user, token=token, email=email, password=password)


def incident(
    db: Database, actor: Account, *, title: str = "Storm Ingunn", **fields: object
) -> Incident:
    return incidents.open_incident(
        db,
        actor=actor.user,
        data=IncidentCreate(title=title, **fields),  # type: ignore[arg-type]
    )


def entry(db: Database, actor: Account, incident_obj: Incident, **fields: object) -> LogEntryPublic:
    fields.setdefault("kind", "information")
    fields.setdefault("text", "Power is out in the north of the municipality.")
    return log_service.append_entry(
        db,
        actor=actor.user,
        incident=_current(db, incident_obj),
        data=LogEntryCreate(**fields),  # type: ignore[arg-type]
    )


def entries(
    db: Database,
    actor: Account,
    incident_obj: Incident,
    count: int,
    *,
    text: str = "Vannverket melder trykkfall i sone {n}.",
    classification: Classification = Classification.internal,
) -> int:
    """Append `count` entries in ONE transaction through the log's own write path; returns the
    incident's newest event seq. The same chain and event rows as `count` appends, without
    `count` durable commits."""
    with transaction(db) as tx:
        current = incidents.get_incident(tx.session, incident_obj.id or 0)
        incidents.lock_incident(tx.session, current)
        for n in range(count):
            log_service.write_entry(
                tx,
                incident=current,
                kind=EntryKind.information,
                text=text.format(n=n),
                classification=classification,
                author=actor.user,
            )
    return current.event_seq


def change(db: Database, actor: Account, incident_obj: Incident, **fields: object) -> Incident:
    """Change the incident's level and/or phase (`phase="closed"` closes it)."""
    return incidents.change_incident(
        db,
        actor=actor.user,
        incident=_current(db, incident_obj),
        change=IncidentChange(**fields),  # type: ignore[arg-type]
    )


def invite(db: Database, admin: Account, *, email: str, name: str, days: int = 7) -> str:
    """An invitation of a staff member by `admin`; returns the secret of its link."""
    _, secret = accounts.invite_user(
        db,
        actor=admin.user,
        data=UserCreate(email=email, name=name, role=Role.staff),
        days=days,
    )
    return secret


def _current(db: Database, incident_obj: Incident) -> Incident:
    with db.read_session() as session:
        return incidents.get_incident(session, incident_obj.id or 0)
