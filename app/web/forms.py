"""A page's form, posted: read into the service's input model, the action called, and the
answer, with messages people understand when it is refused.

Every form's POST has one shape, `submit`: CSRF is checked first (the route's `Csrf`), then
`act(lang)` reads the form into its model (`parse_form`) and calls the service's action;
what it returns goes to `done` (a redirect, the changed blocks, a page). A form that does not
read (`FormInvalid`, 422), or a domain error the form shows (`shows`), goes to `refused` with
its messages in the reader's language, to show the form again with what was typed; any other
domain error goes on to the error page (app/web/errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from app import i18n
from app.accounts.models import User
from app.errors import DomainError, RateLimited
from app.i18n import N_
from app.ui.reader import language_of
from app.web.render import render

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

FIELD_NAMES = {
    "email": N_("E-mail"),
    "name": N_("Name"),
    "password": N_("Password"),
    "title": N_("Title"),
    "text": N_("Text"),
    "kind": N_("Kind"),
    "classification": N_("Classification"),
    "occurred_at": N_("Happened at"),
    "category": N_("Category"),
    "level": N_("Alert level"),
    "phase": N_("Phase"),
    "role": N_("Role"),
    "corrects": N_("Corrects"),
}


class FormInvalid(Exception):
    """The form could not be turned into its model; `messages` are already translated."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__("; ".join(messages.values()))
        self.messages = messages


def _message(lang: str, err: Any) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return i18n.gettext(lang, "must be filled in.")
    if kind == "string_too_short":
        return i18n.gettext(lang, "must have at least {n} characters.", n=ctx.get("min_length"))
    if kind == "string_too_long":
        return i18n.gettext(lang, "can have at most {n} characters.", n=ctx.get("max_length"))
    if kind == "value_error" and "@" in str(err.get("msg", "")):
        return i18n.gettext(lang, "is not a valid e-mail address.")
    if kind == "value_error" and "bidirectional control" in str(err.get("msg", "")):
        return i18n.gettext(lang, "must not contain characters that change the text's direction.")
    if kind == "value_error" and "control characters" in str(err.get("msg", "")):
        return i18n.gettext(lang, "must not contain control characters.")
    if kind == "enum":
        return i18n.gettext(lang, "is not one of the choices.")
    return i18n.gettext(lang, "is not valid.")


def parse_form(model: type[M], data: dict[str, Any], lang: str) -> M:
    """Validate form fields; empty optional fields count as not given."""
    cleaned = {k: v for k, v in data.items() if v not in ("", None)}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        messages: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err.get("loc") else "form"
            label = i18n.gettext(lang, FIELD_NAMES.get(field, field))
            messages.setdefault(field, f"{label} {_message(lang, err)}")
        raise FormInvalid(messages) from exc


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a form was refused: translated messages by field ("form": the form as a whole)."""

    errors: dict[str, str]
    status: int
    headers: dict[str, str] | None = None

    @property
    def messages(self) -> list[str]:
        return list(self.errors.values())


def submit(
    request: Request,
    user: User | None,
    act: Callable[[str], T],
    *,
    done: Callable[[T], Response],
    refused: Callable[[Refusal], Response],
    shows: bool | Collection[str] = False,
) -> Response:
    """Run a posted form's `act(lang)` and answer with `done` or `refused` (module docstring).

    `shows` says which domain errors the form shows itself: all (True), those of the given
    fields, or none (False: each goes to the error page, with its own status).
    """
    lang = language_of(request, user)
    try:
        result = act(lang)
    except FormInvalid as exc:
        return refused(Refusal(exc.messages, 422))
    except DomainError as exc:
        if not (shows is True or (shows is not False and exc.field in shows)):
            raise
        message = i18n.gettext(lang, exc.message, **exc.params)
        wait = exc.params.get("seconds") if isinstance(exc, RateLimited) else None
        headers = None if wait is None else {"Retry-After": str(wait)}
        return refused(Refusal({exc.field or "form": message}, exc.status, headers))
    return done(result)


def again(
    request: Request,
    template: str,
    context: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    user: User | None = None,
) -> Callable[[Refusal], Response]:
    """The usual answer to a refused form: its page again, with the errors by its fields.

    `context` may be a function, for a page that reads the database: called only when the
    form is refused, so a successful post reads its answer after the action, not before.
    """

    def page(refusal: Refusal) -> Response:
        shown = context() if callable(context) else context
        return render(
            request,
            template,
            {**shown, "errors": refusal.errors},
            user=user,
            status_code=refusal.status,
            headers=refusal.headers,
        )

    return page
