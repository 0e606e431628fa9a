"""Pages for signing in and out, the first administrator's set-up, invites, password resets
and language."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts import recovery
from app.accounts import service as accounts
from app.accounts.models import FirstAdmin, NewPassword, PasswordSet, User
from app.config import LANGUAGES, Settings
from app.db import Database
from app.deps import Db, DbSession
from app.errors import DomainError
from app.i18n import gettext
from app.ui.reader import SESSION_COOKIE, language_of
from app.web.deps import Csrf, OptionalUser, PageUser
from app.web.forms import Refusal, again, parse_form, submit
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


def _signed_in(request: Request, db: Database, user: User, target: str) -> Response:
    settings: Settings = request.app.state.settings
    raw = accounts.start_session(db, user=user, days=settings.session_days)
    response = RedirectResponse(_safe_next(target), status_code=303)
    set_session_cookie(request, response, raw)
    remember_device(request, response, user.email)
    return response


def _signed_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
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
    db: Db,
    session: DbSession,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    guard, account, address = login_guard(request), account_key(email), client_address(request)

    def authenticate(lang: str) -> User:
        guard.check(address=address, account=account, known_device=is_known_device(request, email))
        try:
            return accounts.authenticate(session, email=email, password=password)
        except DomainError:
            guard.failed(account=account, address=address)
            raise

    def signed_in(user: User) -> Response:
        guard.succeeded(account=account)
        return _signed_in(request, db, user, next)

    def refused(refusal: Refusal) -> Response:
        context = {"next": _safe_next(next), "email": email, "error": refusal.messages[0]}
        return render(
            request,
            "auth/login.html",
            context,
            status_code=refusal.status,
            headers=refusal.headers,
        )

    return submit(request, None, authenticate, done=signed_in, refused=refused, shows=True)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, db: Db) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        accounts.end_session(db, raw=raw)
    return _signed_out()


@router.post("/logout-everywhere", dependencies=[Csrf])
def logout_everywhere(db: Db, user: PageUser) -> Response:
    accounts.end_all_sessions(db, user=user)
    return _signed_out()


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
    db: Db,
    token: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "name": name}
    return submit(
        request,
        None,
        lambda lang: accounts.create_first_admin(
            db,
            secret_key=request.app.state.secret_key,
            token=token,
            data=parse_form(FirstAdmin, {**form, "password": password}, lang),
        ),
        done=lambda user: _signed_in(request, db, user, "/"),
        refused=again(request, "auth/setup.html", {"token": token, "form": form}),
    )


@router.get("/invite/{token}")
def invite_page(request: Request, session: DbSession, token: str) -> Response:
    invite = accounts.get_invite(session, token)
    return render(
        request, "auth/invite.html", {"invite": invite, "form": {"name": invite.name}, "errors": {}}
    )


@router.post("/invite/{token}", dependencies=[Csrf])
def accept_invite(
    request: Request,
    db: Db,
    session: DbSession,
    token: str,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    invite = accounts.get_invite(session, token)
    return submit(
        request,
        None,
        lambda lang: accounts.accept_invite(
            db, raw=token, data=parse_form(PasswordSet, {"name": name, "password": password}, lang)
        ),
        done=lambda user: _signed_in(request, db, user, "/"),
        refused=again(request, "auth/invite.html", {"invite": invite, "form": {"name": name}}),
        shows={"name"},
    )


# --- password reset (a link from an administrator) -------------------------------------------


@router.get("/reset/{token}")
def reset_page(request: Request, session: DbSession, token: str) -> Response:
    _, user = recovery.get_password_reset(session, token)
    return render(request, "auth/reset.html", {"email": user.email, "errors": {}})


@router.post("/reset/{token}", dependencies=[Csrf])
def reset_password(
    request: Request,
    db: Db,
    session: DbSession,
    token: str,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Set the new password; every other session of the user ends, this browser is signed in."""
    _, owner = recovery.get_password_reset(session, token)

    def done(user: User) -> Response:
        login_guard(request).succeeded(account=account_key(user.email))
        return _signed_in(request, db, user, "/")

    return submit(
        request,
        None,
        lambda lang: recovery.reset_password(
            db, raw=token, data=parse_form(NewPassword, {"password": password}, lang)
        ),
        done=done,
        refused=again(request, "auth/reset.html", {"email": owner.email}),
    )


@router.post("/language", dependencies=[Csrf])
def set_language(
    request: Request,
    db: Db,
    user: PageUser,
    language: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    accounts.set_language(db, user=user, language=language if language in LANGUAGES else None)
    return RedirectResponse(_safe_next(next), status_code=303)
