"""Rendering pages and htmx answers for one request, from the templates of `app/ui`.

`render()` and `render_blocks()` give every template the same context (reader's language,
user, CSRF token, settings), so a block rendered alone for htmx looks exactly like the same
block inside its page, and like the live push's copy of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jinja2_fragments
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks

from app.accounts.models import User
from app.config import Settings
from app.ui.reader import language_of
from app.ui.templates import env
from app.web.security import csrf_token, ensure_csrf_cookie

templates = Jinja2Blocks(env=env)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _context(
    request: Request, user: User | None, context: dict[str, Any] | None, oob: Sequence[str]
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "request": request,
        "user": user,
        "lang": language_of(request, user),
        "zone": settings.zone,
        "settings": settings,
        "csrf_token": csrf_token(request),
        "oob": tuple(oob),
        **(context or {}),
    }


def _finish(request: Request, response: Response, lang: str) -> Response:
    response.headers["Content-Language"] = lang
    ensure_csrf_cookie(request, response)
    return response


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
    """Render a whole page, or only `block` of it (for htmx)."""
    full = _context(request, user, context, ())
    if block is None:
        response = templates.TemplateResponse(
            request, template, full, status_code=status_code, headers=headers
        )
    else:
        response = templates.TemplateResponse(
            request, template, full, status_code=status_code, headers=headers, block_name=block
        )
    return _finish(request, response, full["lang"])


def render_blocks(
    request: Request,
    context: dict[str, Any],
    parts: Sequence[tuple[str, Sequence[str]]],
    *,
    user: User,
) -> Response:
    """An htmx answer made of blocks, `(template, block names)` after each other, in one
    context: the first block is the answer to swap into the request's target, every other
    one is swapped out of band (the templates read their names in `oob`)."""
    names = [name for _, blocks in parts for name in blocks]
    full = _context(request, user, context, names[1:])
    body = "".join(
        jinja2_fragments.render_blocks(env, template, blocks, full) for template, blocks in parts
    )
    return _finish(request, HTMLResponse(body), full["lang"])
