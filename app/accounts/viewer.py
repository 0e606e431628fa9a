"""Who is looking: the one input of every visibility rule.

A `Viewer` is a small frozen value so the live push can group sockets by `audience` and
render each event once per audience. Liaisons will be a new field and a new rule here.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.accounts.models import User


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    name: str
    admin: bool
    restricted: bool

    @classmethod
    def of(cls, user: User) -> Viewer:
        assert user.id is not None
        return cls(user_id=user.id, name=user.name, admin=user.is_admin, restricted=user.restricted)

    @property
    def audience(self) -> str:
        """Viewers with the same audience see exactly the same things."""
        return "restricted" if self.restricted else "staff"
