"""JSON API: your API tokens (and, for administrators, everyone's): list, create, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from app.accounts import tokens
from app.accounts.models import ApiTokenCreate, ApiTokenCreated, ApiTokenPublic
from app.db import INT_MAX
from app.deps import ApiUser, Db, DbSession
from app.errors import NotAllowed

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=list[ApiTokenPublic], summary="List API tokens, newest first")
def list_tokens(
    session: DbSession,
    user: ApiUser,
    user_id: Annotated[
        int | None,
        Query(ge=1, le=INT_MAX, description="Another user's tokens (administrators only)."),
    ] = None,
) -> list[ApiTokenPublic]:
    """Your own tokens, revoked and expired ones included; an administrator may ask for
    another user's."""
    if user_id is not None and user_id != user.id and not user.is_admin:
        raise NotAllowed("Only administrators can see other users' tokens.")
    return tokens.list_api_tokens(session, user_id=user.id if user_id is None else user_id)


@router.post(
    "", status_code=201, response_model=ApiTokenCreated, summary="Create an API token for yourself"
)
def create_token(db: Db, user: ApiUser, data: ApiTokenCreate) -> ApiTokenCreated:
    """The answer is the only place the secret is ever shown; the server keeps its hash."""
    raw, token = tokens.issue_token(db, user=user, name=data.name, expires_at=data.expires_at)
    return ApiTokenCreated(token=raw, **tokens.present_token(token, user).model_dump())


@router.delete(
    "/{token_id}",
    status_code=204,
    response_class=Response,
    summary="Revoke an API token (yours; an administrator: anyone's)",
)
def revoke_token(
    db: Db,
    user: ApiUser,
    token_id: Annotated[int, Path(ge=1, le=INT_MAX, description="The token's id.")],
) -> Response:
    """At once: the next request with it is a 401, and its open sockets close with 4401."""
    tokens.revoke_api_token(db, actor=user, token_id=token_id)
    return Response(status_code=204)
