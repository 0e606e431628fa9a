"""Pages for API tokens: everyone's own at /tokens, everyone's at /admin/tokens (admins).

As with an invite link, a new token's secret is shown once, on the page the POST answers with
(no redirect could carry it), and never again: only its hash is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from app.accounts import tokens
from app.accounts.models import ApiToken, User
from app.db import utcnow
from app.deps import Db, DbSession
from app.i18n import gettext
from app.web.deps import AdminUser, Csrf, PageUser
from app.web.forms import FormInvalid, again, submit
from app.web.render import is_htmx, render

router = APIRouter()

TEMPLATE = "tokens/tokens.html"
EXPIRY_DAYS = (30, 90, 365)  # the choices offered; "never" is the empty one


def _context(session: Session, user: User, *, everyone: bool, **extra: Any) -> dict[str, Any]:
    return {
        "tokens": tokens.list_api_tokens(session, user_id=None if everyone else user.id),
        "everyone": everyone,
        "expiry_days": EXPIRY_DAYS,
        "form": {"name": "", "expires_in_days": ""},
        "errors": {},
        "created": None,
        "nav": "admin" if everyone else "tokens",
        **extra,
    }


@router.get("/tokens")
def own_tokens(request: Request, session: DbSession, user: PageUser) -> Response:
    return render(request, TEMPLATE, _context(session, user, everyone=False), user=user)


@router.get("/admin/tokens")
def all_tokens(request: Request, session: DbSession, user: AdminUser) -> Response:
    return render(request, TEMPLATE, _context(session, user, everyone=True), user=user)


@router.post("/tokens", dependencies=[Csrf])
def create_token(
    request: Request,
    db: Db,
    session: DbSession,
    user: PageUser,
    name: Annotated[str, Form()] = "",
    expires_in_days: Annotated[str, Form()] = "",
) -> Response:
    """A token for yourself, named, expiring after one of EXPIRY_DAYS or never."""
    form = {"name": name, "expires_in_days": expires_in_days}

    def issue(lang: str) -> tuple[str, ApiToken]:
        days = int(expires_in_days) if expires_in_days in {str(d) for d in EXPIRY_DAYS} else None
        label = name.strip()
        if not label or len(label) > 120 or (expires_in_days and days is None):
            message = gettext(lang, "Give the token a name of at most 120 characters.")
            raise FormInvalid({"name": message})
        expires = None if days is None else utcnow() + timedelta(days=days)
        return tokens.issue_token(db, user=user, name=label, expires_at=expires)

    def issued(made: tuple[str, ApiToken]) -> Response:
        raw, token = made
        created = {"token": raw, "name": token.name}
        context = _context(session, user, everyone=False, created=created)
        return render(request, TEMPLATE, context, user=user, headers={"Cache-Control": "no-store"})

    return submit(
        request,
        user,
        issue,
        done=issued,
        refused=again(
            request, TEMPLATE, lambda: _context(session, user, everyone=False, form=form), user=user
        ),
    )


@router.post("/tokens/{token_id}/revoke", dependencies=[Csrf])
def revoke_token(
    request: Request,
    db: Db,
    session: DbSession,
    user: PageUser,
    token_id: int,
    everyone: Annotated[str, Form()] = "",
) -> Response:
    """Your own token, or (an administrator) anyone's; at once, open sockets included."""
    tokens.revoke_api_token(db, actor=user, token_id=token_id)
    all_of_them = everyone == "1" and user.is_admin
    if is_htmx(request):
        context = _context(session, user, everyone=all_of_them)
        return render(request, TEMPLATE, context, user=user, block="token_list")
    return RedirectResponse("/admin/tokens" if all_of_them else "/tokens", status_code=303)
