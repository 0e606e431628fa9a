"""Pages for signing in and out, the first administrator's set-up, invites, password resets
and language."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts import recovery
from app.accounts import service as accounts
from app.accounts.models import FirstAdmin, NewPassword, PasswordSet
from app.config import LANGUAGES, Settings
from app.deps import DbSession
from app.errors import DomainError
from app.i18n import gettext
from app.ui.reader import SESSION_COOKIE, language_of
from app.web.deps import Csrf, OptionalUser, PageUser
from app.web.forms import FormInvalid, parse_form
from app.web.login_guard import (
    account_key,
    client_address,
    is_known_device,
    login_guard,
    remember_device,
)
from app.web.render import render
from app.web.security import clear_session_cookie, set_session_cookie

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a sign-in link must not send anyone elsewhere."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _signed_in(request: Request, session: DbSession, user_id: int, target: str) -> Response:
    settings: Settings = request.app.state.settings
    user = accounts.get_user_by_id(session, user_id)
    raw = accounts.start_session(session, user=user, days=settings.session_days)
    response = RedirectResponse(_safe_next(target), status_code=303)
    set_session_cookie(request, response, raw)
    remember_device(request, response, user.email)
    return response


@router.get("/login")
def login_page(
    request: Request,
    session: DbSession,
    user: OptionalUser,
    next: str = "/",
    expired: bool = False,
) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    lang = language_of(request, None)
    notice = gettext(lang, "Your session has expired. Sign in again.") if expired else None
    context = {
        "next": _safe_next(next),
        "notice": notice,
        "first_start": accounts.needs_setup(session),
    }
    return render(request, "auth/login.html", context)


@router.post("/login", dependencies=[Csrf])
def login(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    lang = language_of(request, None)
    guard, account, address = login_guard(request), account_key(email), client_address(request)
    try:
        guard.check(address=address, account=account, known_device=is_known_device(request, email))
        try:
            user = accounts.authenticate(session, email=email, password=password)
        except DomainError:
            guard.failed(account=account, address=address)
            raise
    except DomainError as exc:
        return render(
            request,
            "auth/login.html",
            {
                "next": _safe_next(next),
                "email": email,
                "error": gettext(lang, exc.message, **exc.params),
            },
            status_code=exc.status,
            headers={"Retry-After": str(exc.params["seconds"])}
            if "seconds" in exc.params
            else None,
        )
    guard.succeeded(account=account)
    assert user.id is not None
    return _signed_in(request, session, user.id, next)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, session: DbSession) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        accounts.end_session(session, raw=raw)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


@router.post("/logout-everywhere", dependencies=[Csrf])
def logout_everywhere(session: DbSession, user: PageUser) -> Response:
    accounts.end_all_sessions(session, user=user)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/setup")
def setup_page(request: Request, session: DbSession, token: str = "") -> Response:
    if not accounts.needs_setup(session):
        return RedirectResponse("/login", status_code=303)
    if not accounts.setup_token_valid(request.app.state.secret_key, token):
        # Say where the real link is before anyone types a password into a form that
        # would only refuse it.
        return render(
            request, "auth/setup_link.html", {"token_given": bool(token)}, status_code=404
        )
    return render(request, "auth/setup.html", {"token": token, "form": {}, "errors": {}})


@router.post("/setup", dependencies=[Csrf])
def setup(
    request: Request,
    session: DbSession,
    token: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    lang = language_of(request, None)
    form = {"email": email, "name": name}
    try:
        data = parse_form(FirstAdmin, {**form, "password": password}, lang)
        user = accounts.create_first_admin(
            session, secret_key=request.app.state.secret_key, token=token, data=data
        )
    except FormInvalid as exc:
        return render(
            request,
            "auth/setup.html",
            {"token": token, "form": form, "errors": exc.messages},
            status_code=422,
        )
    assert user.id is not None
    return _signed_in(request, session, user.id, "/")


@router.get("/invite/{token}")
def invite_page(request: Request, session: DbSession, token: str) -> Response:
    invite = accounts.get_invite(session, token)
    return render(
        request, "auth/invite.html", {"invite": invite, "form": {"name": invite.name}, "errors": {}}
    )


@router.post("/invite/{token}", dependencies=[Csrf])
def accept_invite(
    request: Request,
    session: DbSession,
    token: str,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    lang = language_of(request, None)
    invite = accounts.get_invite(session, token)
    try:
        data = parse_form(PasswordSet, {"name": name, "password": password}, lang)
    except FormInvalid as exc:
        return render(
            request,
            "auth/invite.html",
            {"invite": invite, "form": {"name": name}, "errors": exc.messages},
            status_code=422,
        )
    try:
        user = accounts.accept_invite(session, raw=token, data=data)
    except DomainError as exc:
        if exc.field != "name":
            raise
        session.rollback()
        message = gettext(lang, exc.message, **exc.params)
        return render(
            request,
            "auth/invite.html",
            {"invite": invite, "form": {"name": name}, "errors": {"name": message}},
            status_code=exc.status,
        )
    assert user.id is not None
    return _signed_in(request, session, user.id, "/")


# --- password reset (a link from an administrator) -------------------------------------------


@router.get("/reset/{token}")
def reset_page(request: Request, session: DbSession, token: str) -> Response:
    _, user = recovery.get_password_reset(session, token)
    return render(request, "auth/reset.html", {"email": user.email, "errors": {}})


@router.post("/reset/{token}", dependencies=[Csrf])
def reset_password(
    request: Request,
    session: DbSession,
    token: str,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Set the new password; every other session of the user ends, this browser is signed in."""
    lang = language_of(request, None)
    _, user = recovery.get_password_reset(session, token)
    try:
        data = parse_form(NewPassword, {"password": password}, lang)
    except FormInvalid as exc:
        return render(
            request,
            "auth/reset.html",
            {"email": user.email, "errors": exc.messages},
            status_code=422,
        )
    user = recovery.reset_password(session, raw=token, data=data)
    login_guard(request).succeeded(account=account_key(user.email))
    assert user.id is not None
    return _signed_in(request, session, user.id, "/")


@router.post("/language", dependencies=[Csrf])
def set_language(
    request: Request,
    session: DbSession,
    user: PageUser,
    language: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    accounts.set_language(session, user=user, language=language if language in LANGUAGES else None)
    return RedirectResponse(_safe_next(next), status_code=303)
