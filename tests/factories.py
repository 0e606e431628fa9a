"""Test data made through the services, so chains, numbers and events stay true."""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts import service as accounts
from app.accounts import tokens
from app.accounts.models import Role, User, UserCreate
from app.db import Database
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentCreate
from app.log import service as log_service
from app.log.models import LogEntryCreate, LogEntryPublic

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
) -> Account:
    user = accounts.create_user(
        db,
        data=UserCreate(email=email, name=name, role=Role(role), restricted=restricted),
        password=password,
    )
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
    with db.read_session() as session:
        current = incidents.get_incident(session, incident_obj.id or 0)
    return log_service.append_entry(
        db,
        actor=actor.user,
        incident=current,
        data=LogEntryCreate(**fields),  # type: ignore[arg-type]
    )
