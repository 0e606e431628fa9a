"""Account use cases: first administrator, invites, sign-in sessions (API tokens: tokens.py).

There is no self-registration: the first administrator comes from a set-up link printed on
the console while no user exists; everyone else is invited by an administrator.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import timedelta
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pwdlib import PasswordHash
from sqlalchemy import CursorResult, func, text, update
from sqlmodel import Session, col, select

from app.accounts.access import Credential, account_changed
from app.accounts.models import (
    FirstAdmin,
    Invite,
    PasswordSet,
    Role,
    User,
    UserCreate,
    UserSession,
)
from app.actions import transaction
from app.db import Database, is_id, utcnow
from app.errors import AuthRequired, Conflict, Invalid, NotAllowed, NotFound

_hasher = PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown, so both paths take as long.

    Made on first use, not at import: every CLI command imports this module, and an argon2
    hash costs a noticeable part of a second on a small machine.
    """
    return _hasher.hash("not a real password, used to keep timing even")


SETUP_MAX_AGE = 7 * 24 * 3600


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_secret(prefix: str = "") -> tuple[str, str]:
    raw = prefix + secrets.token_urlsafe(32)
    return raw, _digest(raw)


def _normal_email(email: str) -> str:
    return email.strip().lower()


# --- first administrator ---------------------------------------------------------------------


def needs_setup(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(User)).one() == 0


def setup_token(secret_key: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt="setup").dumps("first-admin")


def setup_token_valid(secret_key: str, token: str) -> bool:
    try:
        URLSafeTimedSerializer(secret_key, salt="setup").loads(token, max_age=SETUP_MAX_AGE)
    except BadSignature:
        return False
    return True


def create_first_admin(db: Database, *, secret_key: str, token: str, data: FirstAdmin) -> User:
    if not setup_token_valid(secret_key, token):
        raise NotFound("This set-up link is not valid. Restart the server for a new one.")
    user = User(
        email=_normal_email(str(data.email)),
        name=data.name,
        role=Role.admin,
        restricted=True,
        password_hash=_hasher.hash(data.password),
    )
    with transaction(db) as tx:
        _lock_users(tx.session)
        if not needs_setup(tx.session):
            raise Conflict("Samvirke is already set up. Sign in instead.")
        tx.session.add(user)
    return user


def _lock_users(session: Session) -> None:
    """Serialise "is there anyone yet?" with the insert that answers it, so exactly one of
    several simultaneous set-ups wins. SQLite's write transaction (BEGIN IMMEDIATE) already
    does; PostgreSQL's READ COMMITTED would let each see an empty table."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE user_account IN SHARE ROW EXCLUSIVE MODE"))


# --- display names ---------------------------------------------------------------------------


def name_key(name: str) -> str:
    """What a name looks like on a page: NFKC, case-folded, invisible characters dropped and
    spaces collapsed (HTML shows "Anne  Admin" as "Anne Admin"). Two names with one key are
    one name to a reader."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return " ".join(visible.split())


def require_free_name(session: Session, name: str, *, except_id: int | None = None) -> None:
    """Refuse a name that another active user already shows (or one that looks the same)."""
    key = name_key(name)
    for other in session.exec(select(User).where(col(User.active))):
        if other.id != except_id and name_key(other.name) == key:
            raise Conflict(
                "Another user is already shown as {name}. Choose a name others can tell apart.",
                field="name",
                name=other.name,
            )


# --- users -----------------------------------------------------------------------------------


def create_user(db: Database, *, data: UserCreate, password: str | None = None) -> User:
    """Create a user directly (the CLI's way); without a password they sign in by token only."""
    email = _normal_email(str(data.email))
    user = User(
        email=email,
        name=data.name,
        role=data.role,
        restricted=data.restricted,
        password_hash=_hasher.hash(password) if password else None,
    )
    with transaction(db) as tx:
        if get_user_by_email(tx.session, email) is not None:
            raise Conflict(
                "A user with the e-mail {email} already exists.", field="email", email=email
            )
        require_free_name(tx.session, data.name)
        tx.session.add(user)
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == _normal_email(email))).first()


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.name))).all())


def update_user(
    db: Database,
    *,
    actor: User,
    user_id: int,
    role: Role | None = None,
    restricted: bool | None = None,
    active: bool | None = None,
) -> User:
    """An administrator changes someone's role, clearance or access; signs them out if barred."""
    if not actor.is_admin:
        raise NotAllowed("Only administrators can change users.")
    with transaction(db) as tx:
        session = tx.session
        user = get_user_by_id(session, user_id)
        if user.id == actor.id and (active is False or role == Role.staff):
            raise Invalid("You cannot remove your own administrator access.")
        if role is not None:
            user.role = role
        if restricted is not None:
            user.restricted = restricted
        if active and not user.active:
            require_free_name(session, user.name, except_id=user.id)
        if active is not None:
            user.active = active
            if not active:
                _delete_sessions(session, user)
        assert user.id is not None
        account_changed(session, user.id)  # open sockets re-check at once (accounts/access.py)
    return user


def set_language(db: Database, *, user: User, language: str | None) -> User:
    with transaction(db) as tx:
        user.language = language
        tx.session.add(user)
    return user


# --- sign-in sessions ------------------------------------------------------------------------


def authenticate(session: Session, *, email: str, password: str) -> User:
    user = get_user_by_email(session, email)
    if user is None or not user.active or user.password_hash is None:
        _hasher.verify(password, _dummy_hash())
        raise AuthRequired("Wrong e-mail or password.")
    if not _hasher.verify(password, user.password_hash):
        raise AuthRequired("Wrong e-mail or password.")
    return user


def start_session(db: Database, *, user: User, days: int) -> str:
    """Sign in: returns the cookie value. Expired sessions of the user are swept here."""
    assert user.id is not None
    raw, digest = _new_secret()
    now = utcnow()
    with transaction(db) as tx:
        for old in tx.session.exec(
            select(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at < now)
        ):
            tx.session.delete(old)
        tx.session.add(
            UserSession(id=digest, user_id=user.id, expires_at=now + timedelta(days=days))
        )
    return raw


def session_user(session: Session, raw: str) -> User | None:
    """The signed-in user of a cookie, or None if it is unknown, expired or the user is barred."""
    found = session_credential(session, raw)
    return None if found is None else found.user


def session_credential(session: Session, raw: str) -> Credential | None:
    """`session_user`, with when the session ends (a page socket closes then)."""
    row = session.get(UserSession, _digest(raw))
    if row is None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return Credential(user, row.expires_at) if user is not None and user.active else None


def end_session(db: Database, *, raw: str) -> None:
    with transaction(db) as tx:
        row = tx.session.get(UserSession, _digest(raw))
        if row is not None:
            tx.session.delete(row)
            account_changed(tx.session, row.user_id)  # its page sockets close


def end_all_sessions(db: Database, *, user: User) -> None:
    """Sign out everywhere: every browser of this user must sign in again, open pages too."""
    with transaction(db) as tx:
        _delete_sessions(tx.session, user)


def _delete_sessions(session: Session, user: User) -> None:
    assert user.id is not None
    for row in session.exec(select(UserSession).where(UserSession.user_id == user.id)):
        session.delete(row)
    account_changed(session, user.id)


# --- invites ---------------------------------------------------------------------------------


def invite_user(db: Database, *, actor: User, data: UserCreate, days: int) -> tuple[Invite, str]:
    """An administrator invites someone; returns the invite and its one-time secret."""
    if not actor.is_admin:
        raise NotAllowed("Only administrators can invite users.")
    assert actor.id is not None
    email = _normal_email(str(data.email))
    raw, digest = _new_secret()
    invite = Invite(
        email=email,
        name=data.name,
        role=data.role,
        restricted=data.restricted,
        token_hash=digest,
        created_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=days),
    )
    with transaction(db) as tx:
        if get_user_by_email(tx.session, email) is not None:
            raise Conflict(
                "A user with the e-mail {email} already exists.", field="email", email=email
            )
        require_free_name(tx.session, data.name)
        _end_open_invites(tx.session, email)
        tx.session.add(invite)
    return invite, raw


def _end_open_invites(session: Session, email: str) -> None:
    """Inviting an address again replaces its earlier invite: one live link per person."""
    for old in session.exec(
        select(Invite).where(Invite.email == email, col(Invite.accepted_at).is_(None))
    ):
        session.delete(old)


def get_invite(session: Session, raw: str) -> Invite:
    invite = session.exec(select(Invite).where(Invite.token_hash == _digest(raw))).first()
    if invite is None or invite.accepted_at is not None or invite.expires_at < utcnow():
        raise NotFound("This invite link is not valid: it was used already or has expired.")
    return invite


def accept_invite(db: Database, *, raw: str, data: PasswordSet) -> User:
    """The invite is claimed with one conditional UPDATE: of two people accepting it at once,
    the second waits for the first's row lock and then finds it taken (404, as a used link).
    The password is hashed before the write transaction begins: it takes a while."""
    password_hash = _hasher.hash(data.password)
    with transaction(db) as tx:
        session = tx.session
        invite = get_invite(session, raw)
        claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Invite)
            .where(col(Invite.id) == invite.id, col(Invite.accepted_at).is_(None))
            .values(accepted_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            raise NotFound("This invite link is not valid: it was used already or has expired.")
        if get_user_by_email(session, invite.email) is not None:
            raise Conflict("A user with the e-mail {email} already exists.", email=invite.email)
        require_free_name(session, data.name)
        user = User(
            email=invite.email,
            name=data.name,
            role=invite.role,
            restricted=invite.restricted,
            password_hash=password_hash,
        )
        session.add(user)
    return user


def list_pending_invites(session: Session) -> list[Invite]:
    return list(
        session.exec(
            select(Invite)
            .where(col(Invite.accepted_at).is_(None), Invite.expires_at > utcnow())
            .order_by(col(Invite.created_at).desc())
        ).all()
    )


def get_user_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id) if is_id(user_id) else None
    if user is None:
        raise NotFound("User {id} does not exist.", id=user_id)
    return user
