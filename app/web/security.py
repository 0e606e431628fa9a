"""Browser security: the session cookie, CSRF tokens and the sign-in rate limit.

CSRF: each browser gets a random, HttpOnly `samvirke_csrf` cookie; forms and htmx requests
carry an HMAC of it under the server's secret (hidden field `csrf_token` or header
`X-CSRF-Token`). A foreign site can neither read the cookie nor compute the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings
from app.errors import NotAllowed, RateLimited

CSRF_COOKIE = "samvirke_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "samvirke_session"


def _csrf_seed(request: Request) -> str:
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_seed", None)
    if seed is None:
        seed = secrets.token_urlsafe(24)
        request.state.csrf_seed = seed
        request.state.csrf_new = True
    return seed


def _sign(request: Request, seed: str) -> str:
    key: str = request.app.state.secret_key
    return hmac.new(key.encode(), b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    return _sign(request, _csrf_seed(request))


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    if getattr(request.state, "csrf_new", False):
        settings: Settings = request.app.state.settings
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf_seed,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            max_age=365 * 24 * 3600,
        )


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a state-changing request whose token does not match this browser's cookie."""
    seed = request.cookies.get(CSRF_COOKIE)
    token = submitted or request.headers.get(CSRF_HEADER)
    # compare_digest takes only ASCII strings; a real token is hex, so anything else is wrong.
    if (
        not seed
        or not token
        or not token.isascii()
        or not hmac.compare_digest(_sign(request, seed), token)
    ):
        raise NotAllowed("This form has expired. Reload the page and try again.")


def set_session_cookie(request: Request, response: Response, raw: str) -> None:
    settings: Settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_days * 24 * 3600,
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)


def check_login_rate(request: Request, email: str) -> None:
    """At most N sign-in attempts per minute per address and per e-mail."""
    settings: Settings = request.app.state.settings
    limit = parse(settings.login_rate_limit)
    client = request.client.host if request.client else "unknown"
    limiter = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        limiter = request.app.state.login_limiter = MovingWindowRateLimiter(MemoryStorage())
    for key in (f"ip:{client}", f"email:{email.strip().lower()}"):
        if not limiter.hit(limit, "login", key):
            raise RateLimited("Too many sign-in attempts. Wait a minute and try again.")
