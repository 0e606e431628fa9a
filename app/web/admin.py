"""Pages for administrators: users (role, clearance, access, password resets) and invites.

An invite's (or a password reset's) link holds a one-time secret that is stored only as a hash, so the page that
creates it is the only place it is ever shown: the POST answers with the page itself, never
with a redirect that would have to carry the secret.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from app.accounts import recovery
from app.accounts import service as accounts
from app.accounts.models import Role, User, UserCreate
from app.config import Settings
from app.db import INT_MAX
from app.deps import DbSession
from app.errors import DomainError, Invalid
from app.i18n import gettext
from app.ui.reader import language_of
from app.web.deps import AdminUser, Csrf
from app.web.forms import FormInvalid, parse_form
from app.web.render import is_htmx, render

router = APIRouter(prefix="/admin")

TEMPLATE = "admin/users.html"
RowId = Annotated[int, Path(ge=1, le=INT_MAX)]


def _context(session: Session, **extra: Any) -> dict[str, Any]:
    return {
        "users": accounts.list_users(session),
        "invites": accounts.list_pending_invites(session),
        "form": {"email": "", "name": "", "role": "staff", "restricted": False},
        "errors": {},
        "invite_link": None,
        "reset_link": None,
        "nav": "admin",
        **extra,
    }


def _flag(value: str) -> bool | None:
    return {"1": True, "0": False}.get(value)


@router.get("/users")
def users_page(request: Request, session: DbSession, user: AdminUser) -> Response:
    return render(request, TEMPLATE, _context(session), user=user)


@router.post("/users/{user_id}", dependencies=[Csrf])
def change_user(
    request: Request,
    session: DbSession,
    user: AdminUser,
    user_id: int,
    role: Annotated[str, Form()] = "",
    restricted: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    if role and role not in Role.__members__:
        raise Invalid("Unknown role: {role}.", role=role)
    accounts.update_user(
        session,
        actor=user,
        user_id=user_id,
        role=Role(role) if role else None,
        restricted=_flag(restricted),
        active=_flag(active),
    )
    if is_htmx(request):
        return render(request, TEMPLATE, _context(session), user=user, block="users")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/invites", dependencies=[Csrf])
def invite(
    request: Request,
    session: DbSession,
    user: AdminUser,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "staff",
    restricted: Annotated[str, Form()] = "",
) -> Response:
    settings: Settings = request.app.state.settings
    lang = language_of(request, user)
    form = {"email": email, "name": name, "role": role, "restricted": restricted != ""}
    try:
        data = parse_form(UserCreate, form, lang)
        created, secret = accounts.invite_user(
            session, actor=user, data=data, days=settings.invite_days
        )
    except FormInvalid as exc:
        return _invite_refused(request, session, user, form, exc.messages, 422)
    except DomainError as exc:
        message = gettext(lang, exc.message, **exc.params)
        return _invite_refused(
            request, session, user, form, {exc.field or "form": message}, exc.status
        )
    link = f"{settings.base_url.rstrip('/')}/invite/{secret}"
    context = _context(session, invite_link=link, invited=created)
    return render(request, TEMPLATE, context, user=user, headers={"Cache-Control": "no-store"})


@router.post("/invites/{invite_id}/resend", dependencies=[Csrf])
def resend_invite(
    request: Request, session: DbSession, user: AdminUser, invite_id: RowId
) -> Response:
    """A new link for a pending invite; the one sent before stops working."""
    settings: Settings = request.app.state.settings
    invite, secret = recovery.resend_invite(
        session, actor=user, invite_id=invite_id, days=settings.invite_days
    )
    link = f"{settings.base_url.rstrip('/')}/invite/{secret}"
    context = _context(session, invite_link=link, invited=invite)
    return render(request, TEMPLATE, context, user=user, headers={"Cache-Control": "no-store"})


@router.post("/users/{user_id}/password-reset", dependencies=[Csrf])
def password_reset(
    request: Request, session: DbSession, user: AdminUser, user_id: RowId
) -> Response:
    """Show a single-use link that lets the user choose a new password (shown only now)."""
    settings: Settings = request.app.state.settings
    reset, target, secret = recovery.issue_password_reset(
        session, actor=user, user_id=user_id, hours=settings.password_reset_hours
    )
    link = f"{settings.base_url.rstrip('/')}/reset/{secret}"
    context = _context(session, reset_link=link, reset_for=target, reset=reset)
    return render(request, TEMPLATE, context, user=user, headers={"Cache-Control": "no-store"})


def _invite_refused(
    request: Request,
    session: Session,
    user: User,
    form: dict[str, Any],
    errors: dict[str, str],
    status: int,
) -> Response:
    session.rollback()
    context = _context(session, form=form, errors=errors)
    return render(request, TEMPLATE, context, user=user, status_code=status)
