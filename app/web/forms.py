"""Turning form input into the services' input models, with messages people understand."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app import i18n
from app.i18n import N_

M = TypeVar("M", bound=BaseModel)

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
