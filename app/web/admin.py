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
from app.accounts.models import Invite, Role, User, UserCreate
from app.config import Settings
from app.db import INT_MAX
from app.deps import Db, DbSession
from app.errors import Invalid
from app.web.deps import AdminUser, Csrf
from app.web.forms import again, parse_form, submit
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
    db: Db,
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
        db,
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
    db: Db,
    session: DbSession,
    user: AdminUser,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "staff",
    restricted: Annotated[str, Form()] = "",
) -> Response:
    settings: Settings = request.app.state.settings
    form = {"email": email, "name": name, "role": role, "restricted": restricted != ""}
    return submit(
        request,
        user,
        lambda lang: accounts.invite_user(
            db, actor=user, data=parse_form(UserCreate, form, lang), days=settings.invite_days
        ),
        done=lambda made: _invited(request, session, user, *made),
        refused=again(request, TEMPLATE, lambda: _context(session, form=form), user=user),
        shows=True,
    )


@router.post("/invites/{invite_id}/resend", dependencies=[Csrf])
def resend_invite(
    request: Request, db: Db, session: DbSession, user: AdminUser, invite_id: RowId
) -> Response:
    """A new link for a pending invite; the one sent before stops working."""
    settings: Settings = request.app.state.settings
    invite, secret = recovery.resend_invite(
        db, actor=user, invite_id=invite_id, days=settings.invite_days
    )
    return _invited(request, session, user, invite, secret)


@router.post("/users/{user_id}/password-reset", dependencies=[Csrf])
def password_reset(
    request: Request, db: Db, session: DbSession, user: AdminUser, user_id: RowId
) -> Response:
    """Show a single-use link that lets the user choose a new password (shown only now)."""
    settings: Settings = request.app.state.settings
    reset, target, secret = recovery.issue_password_reset(
        db, actor=user, user_id=user_id, hours=settings.password_reset_hours
    )
    link = settings.link(f"/reset/{secret}")
    return _once(request, session, user, reset_link=link, reset_for=target, reset=reset)


def _invited(
    request: Request, session: Session, user: User, invite: Invite, secret: str
) -> Response:
    settings: Settings = request.app.state.settings
    link = settings.link(f"/invite/{secret}")
    return _once(request, session, user, invite_link=link, invited=invite)


def _once(request: Request, session: Session, user: User, **shown: Any) -> Response:
    """The page with a one-time link on it, read after the action that made the link. Shown
    this once: no cache keeps it."""
    context = _context(session, **shown)
    return render(request, TEMPLATE, context, user=user, headers={"Cache-Control": "no-store"})
