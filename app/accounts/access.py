"""Who holds access right now, and telling the live push when that changes.

A service that changes a user's rights (role, clearance, active), sessions or API tokens calls
`account_changed` inside its transaction: an `AccessChanged` published on the bus (app/bus.py)
when it commits, so every instance, told of committed changes only, re-checks that user's open
sockets at once (app/live/guard.py).

A `Credential` is what a cookie or a bearer token stands for now: the user, and when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.accounts.models import User
from app.bus import AccessChanged, publish_on_commit


@dataclass(frozen=True, slots=True)
class Credential:
    user: User
    expires_at: datetime | None
    token_id: int | None = None  # an API token's id (None for a session cookie)
    last_used_at: datetime | None = None  # the token's, as recorded (accounts/tokens.py)


def account_changed(session: Session, user_id: int) -> None:
    """Say, when the caller's transaction commits, that this user's access changed."""
    publish_on_commit(session, AccessChanged(frozenset({user_id})))
