"""Who reads a page, and in which language: for the pages and their sockets alike."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from app import i18n
from app.accounts.models import User
from app.config import LANGUAGES, Settings

SESSION_COOKIE = "samvirke_session"  # the signed-in browser's session (web/security.py sets it)


def language_of(connection: HTTPConnection, user: User | None) -> str:
    """The reader's own choice, else what the browser asks for, else the instance's default."""
    settings: Settings = connection.app.state.settings
    if user is not None and user.language in LANGUAGES:
        return str(user.language)
    return i18n.negotiate(connection.headers.get("accept-language"), settings.default_language)
