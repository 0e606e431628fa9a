"""Account use cases: first administrator, invites, sign-in sessions (API tokens: tokens.py).

There is no self-registration: the first administrator comes from a set-up link printed on
the console while no user exists; everyone else is invited by an administrator.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pwdlib import PasswordHash
from sqlalchemy import func
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
from app.db import utcnow
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


def create_first_admin(session: Session, *, secret_key: str, token: str, data: FirstAdmin) -> User:
    try:
        URLSafeTimedSerializer(secret_key, salt="setup").loads(token, max_age=SETUP_MAX_AGE)
    except BadSignature as exc:
        raise NotFound("This set-up link is not valid. Restart the server for a new one.") from exc
    if not needs_setup(session):
        raise Conflict("Samvirke is already set up. Sign in instead.")
    user = User(
        email=_normal_email(str(data.email)),
        name=data.name,
        role=Role.admin,
        restricted=True,
        password_hash=_hasher.hash(data.password),
    )
    session.add(user)
    session.commit()
    return user


# --- users -----------------------------------------------------------------------------------


def create_user(session: Session, *, data: UserCreate, password: str | None = None) -> User:
    """Create a user directly (the CLI's way); without a password they sign in by token only."""
    email = _normal_email(str(data.email))
    if get_user_by_email(session, email) is not None:
        raise Conflict("A user with the e-mail {email} already exists.", field="email", email=email)
    user = User(
        email=email,
        name=data.name,
        role=data.role,
        restricted=data.restricted,
        password_hash=_hasher.hash(password) if password else None,
    )
    session.add(user)
    session.commit()
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == _normal_email(email))).first()


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.name))).all())


def update_user(
    session: Session,
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
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User {id} does not exist.", id=user_id)
    if user.id == actor.id and (active is False or role == Role.staff):
        raise Invalid("You cannot remove your own administrator access.")
    if role is not None:
        user.role = role
    if restricted is not None:
        user.restricted = restricted
    if active is not None:
        user.active = active
        if not active:
            _delete_sessions(session, user)
    session.add(user)
    assert user.id is not None
    account_changed(session, user.id)  # open sockets re-check at once (accounts/access.py)
    session.commit()
    return user


def set_language(session: Session, *, user: User, language: str | None) -> User:
    user.language = language
    session.add(user)
    session.commit()
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


def start_session(session: Session, *, user: User, days: int) -> str:
    """Sign in: returns the cookie value. Expired sessions of the user are swept here."""
    assert user.id is not None
    raw, digest = _new_secret()
    now = utcnow()
    for old in session.exec(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at < now)
    ):
        session.delete(old)
    session.add(UserSession(id=digest, user_id=user.id, expires_at=now + timedelta(days=days)))
    session.commit()
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


def end_session(session: Session, *, raw: str) -> None:
    row = session.get(UserSession, _digest(raw))
    if row is not None:
        session.delete(row)
        account_changed(session, row.user_id)  # its page sockets close
        session.commit()


def end_all_sessions(session: Session, *, user: User) -> None:
    """Sign out everywhere: every browser of this user must sign in again, open pages too."""
    _delete_sessions(session, user)
    session.commit()


def _delete_sessions(session: Session, user: User) -> None:
    assert user.id is not None
    for row in session.exec(select(UserSession).where(UserSession.user_id == user.id)):
        session.delete(row)
    account_changed(session, user.id)


# --- invites ---------------------------------------------------------------------------------


def invite_user(
    session: Session, *, actor: User, data: UserCreate, days: int
) -> tuple[Invite, str]:
    """An administrator invites someone; returns the invite and its one-time secret."""
    if not actor.is_admin:
        raise NotAllowed("Only administrators can invite users.")
    assert actor.id is not None
    email = _normal_email(str(data.email))
    if get_user_by_email(session, email) is not None:
        raise Conflict("A user with the e-mail {email} already exists.", field="email", email=email)
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
    session.add(invite)
    session.commit()
    return invite, raw


def get_invite(session: Session, raw: str) -> Invite:
    invite = session.exec(select(Invite).where(Invite.token_hash == _digest(raw))).first()
    if invite is None or invite.accepted_at is not None or invite.expires_at < utcnow():
        raise NotFound("This invite link is not valid: it was used already or has expired.")
    return invite


def accept_invite(session: Session, *, raw: str, data: PasswordSet) -> User:
    invite = get_invite(session, raw)
    if get_user_by_email(session, invite.email) is not None:
        raise Conflict("A user with the e-mail {email} already exists.", email=invite.email)
    user = User(
        email=invite.email,
        name=data.name,
        role=invite.role,
        restricted=invite.restricted,
        password_hash=_hasher.hash(data.password),
    )
    invite.accepted_at = utcnow()
    session.add(invite)
    session.add(user)
    session.commit()
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
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User {id} does not exist.", id=user_id)
    return user
