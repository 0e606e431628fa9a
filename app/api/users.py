"""JSON API: users. An administrator makes password reset links.

The answer carries a one-time link that is stored only as a hash: it is shown here once and
nowhere again, so the response says `Cache-Control: no-store`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.accounts import recovery
from app.accounts.models import LinkPublic
from app.config import Settings
from app.db import INT_MAX
from app.deps import ApiUser, Db

router = APIRouter(tags=["users"])

RowId = Annotated[int, Path(ge=1, le=INT_MAX)]


@router.post(
    "/users/{user_id}/password-reset",
    status_code=201,
    response_model=LinkPublic,
    summary="Make a single-use password reset link for a user (administrators)",
)
def password_reset(
    request: Request, db: Db, user: ApiUser, response: Response, user_id: RowId
) -> LinkPublic:
    settings: Settings = request.app.state.settings
    reset, target, secret = recovery.issue_password_reset(
        db, actor=user, user_id=user_id, hours=settings.password_reset_hours
    )
    response.headers["Cache-Control"] = "no-store"
    return LinkPublic(
        link=settings.link(f"/reset/{secret}"),
        email=target.email,
        expires_at=reset.expires_at,
    )
