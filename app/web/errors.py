"""Errors on pages: a clear message in the reader's language, never a bare status code.

For htmx requests the message goes to the form's own error region (`#<form id>-errors`, the
form id comes in the `HX-Trigger` header) or else to the page's `#flash` region, so what the
user typed stays where it was.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from app import i18n
from app.edge import Refused
from app.errors import DomainError
from app.ui.reader import language_of
from app.web.deps import LoginRequired
from app.web.render import is_htmx, render


def _login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    location = f"/login?next={quote(target)}" + ("&expired=1" if exc.expired else "")
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def error_response(request: Request, status: int, messages: list[str]) -> Response:
    if is_htmx(request):
        trigger = request.headers.get("hx-trigger")
        target = f"#{trigger}-errors" if trigger else "#flash"
        return render(
            request,
            "_partials/errors.html",
            {"messages": messages},
            status_code=status,
            headers={"HX-Retarget": target, "HX-Reswap": "innerHTML"},
        )
    return render(
        request, "error.html", {"messages": messages, "status": status}, status_code=status
    )


def domain_error_page(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, LoginRequired):
        return _login_redirect(request, exc)
    lang = language_of(request, None)
    return error_response(request, exc.status, [i18n.gettext(lang, exc.message, **exc.params)])


def validation_error_page(request: Request, exc: RequestValidationError) -> Response:
    lang = language_of(request, None)
    messages = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        messages.append(
            i18n.gettext(lang, "{field}: {message}", field=field, message=err.get("msg"))
        )
    return error_response(request, 422, messages)


def http_error_page(request: Request, exc: HTTPException) -> Response:
    lang = language_of(request, None)
    if isinstance(exc, Refused):
        message = i18n.gettext(lang, exc.message)
    elif exc.status_code == 404:
        message = i18n.gettext(lang, "There is nothing at this address.")
    elif exc.status_code == 405:
        message = i18n.gettext(lang, "That action is not possible here.")
    else:
        message = str(exc.detail)
    return error_response(request, exc.status_code, [message])
