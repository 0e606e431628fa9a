"""Rendering pages and htmx fragments from one set of templates.

`render()` gives every template the same context (reader's language, user, CSRF token,
settings) so a block rendered alone for htmx — or, later, for a live push — looks exactly like
the same block inside its page.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from jinja2_fragments.fastapi import Jinja2Blocks
from starlette.requests import HTTPConnection

from app import i18n
from app.accounts.models import User
from app.config import LANGUAGES, Settings
from app.db import utcnow
from app.web.assets import static_url
from app.web.security import csrf_token, ensure_csrf_cookie

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Blocks(env=env)


@pass_context
def _gettext(context: Context, message: str, **params: Any) -> str:
    text = i18n.translations(context.get("lang", "nb")).gettext(message)
    return text % params if params else text


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int, **params: Any) -> str:
    text = i18n.translations(context.get("lang", "nb")).ngettext(singular, plural, n)
    return text % {"num": n, **params}


env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]


@pass_context
def _localtime(context: Context, value: datetime | None, with_seconds: bool = False) -> str:
    """Local wall-clock time; the date is added when it is not today."""
    if value is None:
        return ""
    zone: ZoneInfo = context["zone"]
    local = value.astimezone(zone)
    clock = local.strftime("%H:%M:%S" if with_seconds else "%H:%M")
    if local.date() == utcnow().astimezone(zone).date():
        return clock
    return f"{local.strftime('%d.%m.%Y')} {clock}"


@pass_context
def _isotime(context: Context, value: datetime | None) -> str:
    return value.isoformat() if value else ""


env.filters["localtime"] = _localtime
env.filters["isotime"] = _isotime
env.globals["static_url"] = static_url


def language_of(request: HTTPConnection, user: User | None) -> str:
    settings: Settings = request.app.state.settings
    if user is not None and user.language in LANGUAGES:
        return str(user.language)
    return i18n.negotiate(request.headers.get("accept-language"), settings.default_language)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    user: User | None = None,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a whole page, or only `block` of it (for htmx and, later, live pushes)."""
    settings: Settings = request.app.state.settings
    lang = language_of(request, user)
    full = {
        "request": request,
        "user": user,
        "lang": lang,
        "zone": settings.zone,
        "settings": settings,
        "csrf_token": csrf_token(request),
        **(context or {}),
    }
    if block is None:
        response = templates.TemplateResponse(
            request, template, full, status_code=status_code, headers=headers
        )
    else:
        response = templates.TemplateResponse(
            request, template, full, status_code=status_code, headers=headers, block_name=block
        )
    response.headers["Content-Language"] = lang
    ensure_csrf_cookie(request, response)
    return response
