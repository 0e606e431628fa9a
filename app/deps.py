"""Request dependencies: the database, a read session, the current user and the incident.

Every request gets a read session (`DbSession`), whatever its method: it never waits, and it
refuses to write. A route writes by calling one service action with the `Database` (`Db`);
the action opens, owns and commits its write transaction (app/actions.py), so the write lock is
taken there and held for the use case alone, never across the hops between dependencies.

The shape of every writing route: the caller and the incident are looked up first, in a short
read of their own (`look_up`); the action writes; the answer is read afterwards in the
request's session, whose first statement, and so its snapshot, comes after the commit. The hot
write path, a log append, does the same in one thread-pool call (bounded by `write_limiter`)
after reading the caller and the incident together (`token_user_and_incident`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from anyio import CapacityLimiter
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.requests import HTTPConnection

from app.accounts import tokens
from app.accounts.access import Credential
from app.accounts.models import User
from app.config import Settings
from app.db import INT_MAX, Database
from app.errors import AuthRequired
from app.i18n import N_, negotiate
from app.incidents import service as incidents
from app.incidents.models import Incident

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}


async def get_db(request: Request) -> Database:
    """Async because it does no I/O: FastAPI runs it on the event loop, not in the thread pool."""
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    """The request's read session. Writes go through an action (app/actions.py)."""
    db: Database = request.app.state.db
    with db.read_session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]

T = TypeVar("T")


def look_up(request: Request, session: Session, read: Callable[[Session], T]) -> T:
    """What a dependency reads before the endpoint runs: the caller, the incident.

    A reading request reads it in its own session (one snapshot with the rest of the page). A
    writing request reads it in a short read session beside it, which leaves the objects
    detached: so the request's own session first reads after the action, and sees what it
    wrote. An action locks and reloads the incident inside its own transaction
    (`lock_incident`), so nothing read here is trusted for the write.
    """
    if request.method in _READ_METHODS:
        return read(session)
    db: Database = request.app.state.db
    with db.read_session(snapshot=False) as own:
        return read(own)


Db = Annotated[Database, Depends(get_db)]


async def write_limiter(request: Request, db: Db) -> CapacityLimiter | None:
    """How many write requests run their blocking work at once (`Database.writers_at_once`).

    The others wait as coroutines, not as threads queueing for the write lock: on SQLite a
    few threads write faster than many, and the thread pool stays free for everything else.
    None means no bound beyond the thread pool's. One limiter per app and event loop.
    """
    if db.writers_at_once is None:
        return None
    loop = asyncio.get_running_loop()
    held: tuple[asyncio.AbstractEventLoop, CapacityLimiter] | None = getattr(
        request.app.state, "write_limiter", None
    )
    if held is None or held[0] is not loop:
        held = (loop, CapacityLimiter(db.writers_at_once))
        request.app.state.write_limiter = held
    return held[1]


WriteLimiter = Annotated[CapacityLimiter | None, Depends(write_limiter)]

_bearer = HTTPBearer(auto_error=False, description="An API token from `samvirke tokens create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
IncidentId = Annotated[int, Path(ge=1, le=INT_MAX, description="The incident's id.")]


_MISSING_TOKEN = N_("Missing bearer token: send 'Authorization: Bearer <token>'.")


async def bearer_token(credentials: Credentials) -> str:
    """The bearer token as sent; 401 if there is none. Async: it does no I/O, so no thread hop."""
    if credentials is None:
        raise AuthRequired(_MISSING_TOKEN)
    return credentials.credentials


def bearer_of(authorization: str | None) -> str:
    """`bearer_token` from the raw header, for code that runs before FastAPI's dependencies."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthRequired(_MISSING_TOKEN)
    return token.strip()


BearerToken = Annotated[str, Depends(bearer_token)]


_INVALID_TOKEN = N_("The bearer token is not valid or has been revoked.")


def _token_credential(session: Session, token: str) -> Credential:
    found = tokens.token_credential(session, token)
    if found is None:
        raise AuthRequired(_INVALID_TOKEN)
    return found


def record_use(request: Request, token: str, found: Credential) -> None:
    """Record the token's use, if due (accounts/tokens.py), beside the request: not in it, and
    not as its background task, which runs before the request's own session (and on SQLite
    the write lock it may hold) is let go."""
    if found.token_id is not None and tokens.claim_touch(found, token):
        request.app.state.hub.run_soon(
            tokens.touch_now, request.app.state.db, found.token_id, delay=tokens.TOUCH_DELAY
        )


def api_credential(request: Request, session: DbSession, token: BearerToken) -> Credential:
    found = look_up(request, session, lambda s: _token_credential(s, token))
    record_use(request, token, found)
    return found


ApiCredential = Annotated[Credential, Depends(api_credential)]


def api_user(found: ApiCredential) -> User:
    return found.user


ApiUser = Annotated[User, Depends(api_user)]


def api_incident(request: Request, session: DbSession, incident_id: IncidentId) -> Incident:
    return look_up(request, session, lambda s: incidents.get_incident(s, incident_id))


ApiIncident = Annotated[Incident, Depends(api_incident)]


def token_user_only(db: Database, token: str) -> Credential:
    """The token's user (401 if none), in a short read session of its own."""
    with db.read_session(snapshot=False) as session:
        return _token_credential(session, token)


def token_user_and_incident(
    db: Database, token: str, incident_id: int
) -> tuple[Credential, Incident]:
    """The token's user (with the token's id and last use) and the incident, read in one query,
    in a short read session of their own.

    Not a dependency: a blocking call for an endpoint that does all its blocking work in one
    thread-pool call, and then calls its action. Both objects are detached when this returns;
    the action locks and reloads the incident inside its own transaction (`lock_incident`),
    so nothing read here is trusted for the write.
    """
    with db.read_session(snapshot=False) as session:  # a lookup: no BEGIN needed
        found = tokens.token_user_and(session, token, Incident, incident_id)
        if found is None:
            raise AuthRequired(_INVALID_TOKEN)
        credential, incident = found
        if incident is None:
            incident = incidents.get_incident(session, incident_id)  # the 404
        return credential, incident


def reader_language(conn: HTTPConnection) -> str:
    """The language a program reads system entries in (API, export, JSON socket): the
    request's Accept-Language, else the instance's, which is what they were always shown in
    (docs/api.md). A program's answers do not change with its user's choice on the pages."""
    settings: Settings = conn.app.state.settings
    return negotiate(conn.headers.get("accept-language"), settings.default_language)
