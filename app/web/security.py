"""Browser security: the session cookie and CSRF tokens (sign-in throttling: `login_guard`).

CSRF: each browser gets a random, HttpOnly `samvirke_csrf` cookie; forms and htmx requests
carry an HMAC of it under the server's secret (hidden field `csrf_token` or header
`X-CSRF-Token`). A foreign site can neither read the cookie nor compute the HMAC.

Pages are gzipped, and a page that repeats a fixed secret next to text an attacker chose (a
query string) leaks it byte by byte to anyone who sees the sizes of the answers (BREACH). So
each render shows the HMAC masked afresh: a random pad, then the HMAC XOR the pad, in hex.
Every masked form of this browser's HMAC is accepted, and so is the bare HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from app.config import Settings
from app.errors import NotAllowed
from app.ui.reader import SESSION_COOKIE

CSRF_COOKIE = "samvirke_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


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
    """This browser's token, masked with a new pad each time it is put on a page."""
    signed = bytes.fromhex(_sign(request, _csrf_seed(request)))
    pad = secrets.token_bytes(len(signed))
    return (pad + bytes(a ^ b for a, b in zip(signed, pad, strict=True))).hex()


def _unmask(token: str) -> str:
    """The HMAC a submitted token stands for ("" if it is no token of ours)."""
    if len(token) == 128:
        try:
            raw = bytes.fromhex(token)
        except ValueError:
            return ""
        return bytes(a ^ b for a, b in zip(raw[:32], raw[32:], strict=True)).hex()
    return token


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
        or not hmac.compare_digest(_sign(request, seed), _unmask(token))
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
