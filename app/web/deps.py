"""Page dependencies: the signed-in user (from the session cookie) and CSRF on every write."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request

from app.accounts import service as accounts
from app.accounts.models import User
from app.deps import DbSession, look_up
from app.errors import AuthRequired, NotAllowed
from app.i18n import N_
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.ui.reader import SESSION_COOKIE
from app.web.security import check_csrf


class LoginRequired(AuthRequired):
    """No valid session: the page sends the reader to sign in, and back afterwards."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__(
            N_("Your session has expired. Sign in again.")
            if expired
            else N_("Sign in to continue.")
        )
        self.expired = expired


def optional_user(request: Request, session: DbSession) -> User | None:
    raw = request.cookies.get(SESSION_COOKIE)
    return look_up(request, session, lambda s: accounts.session_user(s, raw)) if raw else None


def page_user(request: Request, session: DbSession) -> User:
    raw = request.cookies.get(SESSION_COOKIE)
    user = look_up(request, session, lambda s: accounts.session_user(s, raw)) if raw else None
    if user is None:
        raise LoginRequired(expired=raw is not None)
    return user


def admin_user(user: Annotated[User, Depends(page_user)]) -> User:
    if not user.is_admin:
        raise NotAllowed("Only administrators can open this page.")
    return user


def csrf(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> None:
    check_csrf(request, csrf_token)


def page_incident(request: Request, session: DbSession, incident_id: int) -> Incident:
    return look_up(request, session, lambda s: incidents.get_incident(s, incident_id))


OptionalUser = Annotated[User | None, Depends(optional_user)]
PageUser = Annotated[User, Depends(page_user)]
AdminUser = Annotated[User, Depends(admin_user)]
PageIncident = Annotated[Incident, Depends(page_incident)]
Csrf = Depends(csrf)
