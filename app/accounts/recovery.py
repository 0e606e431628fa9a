"""Getting back in: password resets issued by an administrator, and invites sent again.

Both hand out a one-time secret (shown once, stored as its SHA-256) and both kill the link
they replace: a new reset link ends the user's earlier unused ones, an invite sent again gets a
new secret, so the old link opens nothing. Using a reset link signs the user out everywhere
else: whoever knew the old password loses the sessions it opened.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.accounts import service as accounts
from app.accounts.models import Invite, NewPassword, PasswordReset, User
from app.actions import transaction
from app.db import Database, utcnow
from app.errors import Conflict, Invalid, NotAllowed, NotFound

_RESET_INVALID = "This password reset link is not valid: it was used already or has expired."


def issue_password_reset(
    db: Database, *, actor: User | None, user_id: int, hours: int
) -> tuple[PasswordReset, User, str]:
    """An administrator (or, with `actor` None, the operator at the server's console) makes a
    reset link for an active user; returns the reset, its user and the one-time secret."""
    if actor is not None and not actor.is_admin:
        raise NotAllowed("Only administrators can reset passwords.")
    raw, digest = accounts._new_secret()
    now = utcnow()
    reset = PasswordReset(
        user_id=user_id,
        token_hash=digest,
        created_by_id=None if actor is None else actor.id,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    with transaction(db) as tx:
        user = accounts.get_user_by_id(tx.session, user_id)
        if not user.active:
            raise Invalid("{email} is deactivated. Reactivate the user first.", email=user.email)
        for old in tx.session.exec(
            select(PasswordReset).where(
                PasswordReset.user_id == user_id, col(PasswordReset.used_at).is_(None)
            )
        ):
            tx.session.delete(old)
        tx.session.add(reset)
    return reset, user, raw


def get_password_reset(session: Session, raw: str) -> tuple[PasswordReset, User]:
    reset = session.exec(
        select(PasswordReset).where(PasswordReset.token_hash == accounts._digest(raw))
    ).first()
    if reset is None or reset.used_at is not None or reset.expires_at < utcnow():
        raise NotFound(_RESET_INVALID)
    user = session.get(User, reset.user_id)
    if user is None or not user.active:
        raise NotFound(_RESET_INVALID)
    return reset, user


def reset_password(db: Database, *, raw: str, data: NewPassword) -> User:
    """Set the new password and end every session of the user, once per link.

    The link is spent by a conditional UPDATE, so of two simultaneous uses only one counts.
    The password is hashed before the write transaction begins: it takes a while.
    """
    password_hash = accounts._hasher.hash(data.password)  # looked up now: tests swap it
    with transaction(db) as tx:
        reset, user = get_password_reset(tx.session, raw)
        spent = tx.session.execute(
            update(PasswordReset)
            .where(col(PasswordReset.id) == reset.id, col(PasswordReset.used_at).is_(None))
            .values(used_at=utcnow())
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(_RESET_INVALID)
        user.password_hash = password_hash
        accounts._delete_sessions(tx.session, user)
    return user


def resend_invite(db: Database, *, actor: User, invite_id: int, days: int) -> tuple[Invite, str]:
    """A new link for an invite not yet accepted (expired or not); the old link dies."""
    if not actor.is_admin:
        raise NotAllowed("Only administrators can invite users.")
    raw, digest = accounts._new_secret()
    with transaction(db) as tx:
        invite = tx.session.get(Invite, invite_id)
        if invite is None:
            raise NotFound("Invite {id} does not exist.", id=invite_id)
        if (
            invite.accepted_at is not None
            or accounts.get_user_by_email(tx.session, invite.email) is not None
        ):
            raise Conflict("{email} has accepted the invite already.", email=invite.email)
        invite.token_hash = digest
        invite.expires_at = utcnow() + timedelta(days=days)
    return invite, raw
