"""Times on pages: stored in UTC, shown in the instance's zone (`zone` in the context)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.runtime import Context

from app.db import utcnow


@pass_context
def localtime(context: Context, value: datetime | None, with_seconds: bool = False) -> str:
    """Local wall-clock time; the date is added when it is not today."""
    if value is None:
        return ""
    zone: ZoneInfo = context["zone"]
    local = value.astimezone(zone)
    clock = local.strftime("%H:%M:%S" if with_seconds else "%H:%M")
    if local.date() == utcnow().astimezone(zone).date():
        return clock
    return f"{local.strftime('%d.%m.%Y')} {clock}"


def isotime(value: datetime | None) -> str:
    """The machine-readable form, for `<time datetime=…>`."""
    return value.isoformat() if value else ""
