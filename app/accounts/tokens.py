"""API tokens: made with a name and an optional expiry, used, listed, revoked.

Only a token's SHA-256 is stored. A token works while it is not revoked, not expired and its
user is active: every API request and socket handshake checks all three in one query, so a
revoked or expired token is refused at once. Revoking publishes an account change
(accounts/access.py), which closes the token's open sockets; a socket also closes itself when
its token expires.

The last use is recorded cheaply: at most once a minute per token and process (`claim_touch`),
in a small write transaction of its own after the answer has gone (`touch_now`), never inside an
append's transaction and its write lock.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, inspect, or_, update
from sqlmodel import Session, SQLModel, col, select

from app.accounts.access import Credential, account_changed
from app.accounts.models import ApiToken, ApiTokenPublic, User
from app.accounts.service import _digest, _new_secret
from app.actions import transaction
from app.db import Database, utcnow
from app.errors import Invalid, NotFound

M = TypeVar("M", bound=SQLModel)
log = logging.getLogger("samvirke")

LAST_USED_EVERY = 60.0  # seconds: how stale `last_used_at` may be
# Seconds between a use and its write: not while the request that used the token is still
# answering (an append is then pushing its entry to every open socket, and this write's
# commit would land on that push; docs/benchmarks.md measured +3 ms at the p99).
TOUCH_DELAY = 1.0


def create_api_token(
    db: Database, *, user: User, name: str = "api", expires_at: datetime | None = None
) -> str:
    """A new token for `user`; returns its secret, which is never shown again."""
    raw, _ = issue_token(db, user=user, name=name, expires_at=expires_at)
    return raw


def issue_token(
    db: Database, *, user: User, name: str, expires_at: datetime | None = None
) -> tuple[str, ApiToken]:
    """`create_api_token`, also returning the stored token (its id and times)."""
    assert user.id is not None
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("The expiry must be in the future.", field="expires_at")
    raw, digest = _new_secret("smv_")
    token = ApiToken(user_id=user.id, name=name, token_hash=digest, expires_at=expires_at)
    with transaction(db) as tx:
        tx.session.add(token)
    return raw, token


# --- using a token (every API request) ---------------------------------------------------

# Built once: every API request runs it. Expiry is checked in Python, on the row it returns.
_TOKEN_USER = (
    select(User, ApiToken.id, ApiToken.expires_at, ApiToken.last_used_at)
    .join(ApiToken, col(ApiToken.user_id) == col(User.id))
    .where(
        col(ApiToken.token_hash) == bindparam("token_hash"),
        col(ApiToken.revoked_at).is_(None),
        col(User.active),
    )
)


def _credential(row: Any) -> Credential | None:
    user, token_id, expires_at, last_used_at = row[:4]
    if expires_at is not None and expires_at <= utcnow():
        return None
    return Credential(user, expires_at, token_id=token_id, last_used_at=last_used_at)


def token_credential(session: Session, raw: str) -> Credential | None:
    """A valid token's user, id, expiry and last use: one query on the token's SHA-256."""
    row = session.execute(_TOKEN_USER, {"token_hash": _digest(raw)}).first()
    return None if row is None else _credential(row)


def token_user(session: Session, raw: str) -> User | None:
    """The active user of a valid (unrevoked, unexpired) API token."""
    found = token_credential(session, raw)
    return None if found is None else found.user


_TOKEN_USER_AND: dict[type[SQLModel], Select[Any]] = {}


def token_user_and(
    session: Session, raw: str, model: type[M], key: int
) -> tuple[Credential, M | None] | None:
    """`token_credential`, and in the same query the `model` row whose id is `key` (or None).

    One round trip for a request that needs both the caller and the thing it addresses.
    """
    statement = _TOKEN_USER_AND.get(model)
    if statement is None:
        id_column = inspect(model).primary_key[0]
        statement = _TOKEN_USER.add_columns(model).outerjoin(model, id_column == bindparam("key"))
        statement = _TOKEN_USER_AND.setdefault(model, statement)
    row = session.execute(statement, {"token_hash": _digest(raw), "key": key}).first()
    found = None if row is None else _credential(row)
    return None if found is None else (found, row[4])  # type: ignore[index]


_claims: dict[str, float] = {}  # token hash -> when this process last claimed its touch
_claims_lock = threading.Lock()


def claim_touch(found: Credential, raw: str) -> bool:
    """True if this use of the token should be recorded: its `last_used_at` is a minute old and
    no request in this process has claimed that already. The caller then runs `touch_now`, after
    answering, so the request waits for no write."""
    if found.token_id is None:
        return False
    now = utcnow()
    if found.last_used_at is not None and now - found.last_used_at < timedelta(
        seconds=LAST_USED_EVERY
    ):
        return False
    clock, key = time.monotonic(), _digest(raw)
    with _claims_lock:
        if clock - _claims.get(key, -LAST_USED_EVERY) < LAST_USED_EVERY:
            return False
        if len(_claims) > 10_000:  # forget old claims; the database's time still throttles
            _claims.clear()
        _claims[key] = clock
    return True


def touch_now(db: Database, token_id: int) -> None:
    """Record a use now, unless another process recorded a newer one (after an answer, beside
    a socket). A failure is logged, not raised: a missed "last used" is no reason for anything
    else to fail."""
    now = utcnow()
    try:
        with transaction(db) as tx:
            tx.session.execute(
                update(ApiToken)
                .where(
                    col(ApiToken.id) == token_id,
                    or_(col(ApiToken.last_used_at).is_(None), col(ApiToken.last_used_at) < now),
                )
                .values(last_used_at=now)
            )
    except Exception as exc:  # noqa: BLE001
        log.warning("could not record the use of API token %s: %s", token_id, exc)


# --- listing and revoking ----------------------------------------------------------------


def present_token(token: ApiToken, user: User) -> ApiTokenPublic:
    assert token.id is not None
    return ApiTokenPublic(
        id=token.id,
        user_id=token.user_id,
        user_email=user.email,
        name=token.name,
        state=token.state(utcnow()),
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
    )


def list_api_tokens(session: Session, *, user_id: int | None = None) -> list[ApiTokenPublic]:
    """Every token (or one user's), newest first, revoked and expired ones too."""
    query = select(ApiToken, User).join(User, col(User.id) == col(ApiToken.user_id))
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    rows = session.exec(query.order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc()))
    return [present_token(token, user) for token, user in rows]


def revoke_api_token(db: Database, *, actor: User | None, token_id: int) -> ApiTokenPublic:
    """Revoke a token at once, its open sockets included. `actor` None: the operator at the
    console (the CLI). A user may revoke their own tokens, an administrator anyone's; another
    user's token is, to a user, unknown (404). Revoking a revoked token changes nothing."""
    with transaction(db) as tx:
        token = tx.session.get(ApiToken, token_id)
        if token is None or (
            actor is not None and not actor.is_admin and token.user_id != actor.id
        ):
            raise NotFound("API token {id} does not exist.", id=token_id)
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            account_changed(tx.session, token.user_id)
        owner = tx.session.get(User, token.user_id)
        assert owner is not None
    return present_token(token, owner)
