"""Request dependencies: the database session, the current user and the current incident.

Requests that may write (anything but GET/HEAD/OPTIONS) get a write session, which on SQLite
takes the write lock when its transaction begins; reads get a read session that never waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.accounts import service as accounts
from app.accounts.models import User
from app.config import Settings
from app.db import INT_MAX, Database
from app.errors import AuthRequired
from app.incidents import service as incidents
from app.incidents.models import Incident

SESSION_COOKIE = "samvirke_session"
_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    db: Database = request.app.state.db
    with db.session(write=request.method not in _READ_METHODS) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]

_bearer = HTTPBearer(auto_error=False, description="An API token from `samvirke tokens create`.")


def api_user(
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise AuthRequired("Missing bearer token: send 'Authorization: Bearer <token>'.")
    user = accounts.token_user(session, credentials.credentials)
    if user is None:
        raise AuthRequired("The bearer token is not valid or has been revoked.")
    return user


ApiUser = Annotated[User, Depends(api_user)]


def api_incident(
    session: DbSession,
    incident_id: Annotated[int, Path(ge=1, le=INT_MAX, description="The incident's id.")],
) -> Incident:
    return incidents.get_incident(session, incident_id)


ApiIncident = Annotated[Incident, Depends(api_incident)]
