"""Who holds access right now, and telling the live push when that changes.

A service that changes a user's rights (role, clearance, active), sessions or API tokens calls
`account_changed` inside its transaction. `app.db` turns the note into a PostgreSQL NOTIFY in
that transaction and an in-process call after its commit, so every instance re-checks that
user's open sockets at once (app/live/guard.py) and hears of committed changes only.

A `Credential` is what a cookie or a bearer token stands for now: the user, and when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.accounts.models import User
from app.db import ACCOUNT_CHANGES


@dataclass(frozen=True, slots=True)
class Credential:
    user: User
    expires_at: datetime | None
    token_id: int | None = None  # an API token's id (None for a session cookie)
    last_used_at: datetime | None = None  # the token's, as recorded (accounts/tokens.py)


def account_changed(session: Session, user_id: int) -> None:
    """Note, in the caller's transaction, that this user's access changed."""
    changed: set[int] = session.info.setdefault(ACCOUNT_CHANGES, set())
    changed.add(user_id)
