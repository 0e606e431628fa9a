"""RFC 9457 problem details for every error the JSON API gives, 401 and 404 included."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from app.edge import Refused
from app.errors import DomainError
from app.i18n import gettext, negotiate

MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The body of every error response."""

    type: str = Field(description="A URN naming the kind of problem.")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable code, e.g. `incident-closed`.")
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


# `model` registers the Problem schema; FastAPI files it under application/json, so it is named
# again for the media type the errors are really sent with.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "description": text,
    }
    for status, text in {
        400: "Malformed request",
        401: "Not signed in",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        413: "Request body over SAMVIRKE_MAX_BODY_BYTES",
        422: "Invalid input",
    }.items()
}

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def _language(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"), "en")


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"urn:samvirke:problem:{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        errors=errors or [],
    )
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def domain_problem(request: Request, exc: DomainError) -> JSONResponse:
    lang = _language(request)
    detail = gettext(lang, exc.message, **exc.params)
    errors = [FieldError(field=exc.field, message=detail)] if exc.field else []
    return problem(request, status=exc.status, code=exc.code, detail=detail, errors=errors)


def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    lang = _language(request)
    errors: list[FieldError] = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            detail = gettext(lang, "The request body is not valid JSON.")
            return problem(request, status=400, code="malformed-json", detail=detail)
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
        errors.append(FieldError(field=".".join(loc) or "body", message=str(err.get("msg"))))
    detail = gettext(lang, "The request has invalid fields.")
    if errors:
        detail += " " + "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem(request, status=422, code="invalid", detail=detail, errors=errors)


_FASTAPI_UNPARSABLE_BODY = "There was an error parsing the body"


def http_problem(request: Request, exc: HTTPException) -> JSONResponse:
    if isinstance(exc, Refused):
        detail = gettext(_language(request), exc.message)
        return problem(request, status=exc.status_code, code=exc.code, detail=detail)
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = gettext(_language(request), "There is nothing at this address.")
    if exc.status_code == 400 and detail == _FASTAPI_UNPARSABLE_BODY:
        # A body that is not even text (e.g. not UTF-8) is malformed JSON like any other.
        code = "malformed-json"
        detail = gettext(_language(request), "The request body is not valid JSON.")
    return problem(
        request,
        status=exc.status_code,
        code=code,
        detail=detail,
        headers=getattr(exc, "headers", None),
    )
