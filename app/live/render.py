"""Live messages for the pages: htmx out-of-band swaps rendered from the pages' own templates.

Each message is one `<template data-seq=…>` (docs/live.md, "The page socket"), rendered once
per audience and language by the hub, so nothing in it may depend on the single reader: the
CSRF fields of a pushed header are empty, and htmx sends the page's token as a header instead
(`check_csrf` accepts either). Entries go through `present_entry`, the one viewer filter, so a
restricted entry reaches a viewer without clearance only as withheld.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from jinja2_fragments import render_block
from markupsafe import Markup

from app.accounts.viewer import Viewer
from app.events.service import INCIDENT_OPENED, INCIDENT_UPDATED, LOG_APPENDED
from app.live.events import IncidentList, LiveEvent
from app.log.visibility import may_read, present_entry
from app.web import labels  # noqa: F401  (installs the vocabulary for the templates)
from app.web.render import env

PAGE = "incidents/page.html"
LIST = "incidents/list.html"


def _context(lang: str, zone: ZoneInfo, **values: Any) -> dict[str, Any]:
    return {"lang": lang, "zone": zone, "oob": True, "csrf_token": "", **values}


def incident_message(event: LiveEvent, viewer: Viewer, *, lang: str, zone: ZoneInfo) -> str:
    """The incident page's message for one event, as this audience may see it."""
    values: dict[str, Any] = {"seq": event.seq, "type": event.type}
    if event.type == LOG_APPENDED and event.entry is not None:
        # Entries are only ever appended to an open incident, and a closed incident's page
        # opens no socket, so an entry is pushed as it looks on an open incident.
        values["incident"] = {"id": event.incident_id, "closed": False}
        values["new"] = present_entry(event.entry, viewer, lang=lang)
        if event.original is not None and may_read(viewer, event.entry.classification):
            shown = [n for n, c in event.corrections if may_read(viewer, c)]
            values["original"] = present_entry(event.original, viewer, shown, lang=lang)
    elif event.type in (INCIDENT_OPENED, INCIDENT_UPDATED) and event.incident is not None:
        header = render_block(
            env,
            PAGE,
            "incident_header",
            _context(lang, zone, incident=event.incident, seq=event.seq),
        )
        values.update(header=Markup(header), closed=event.incident.closed)
    return env.get_template("live/incident_event.html").render(_context(lang, zone, **values))


def list_message(listing: IncidentList, viewer: Viewer, *, lang: str, zone: ZoneInfo) -> str:
    """The list page's message: the whole list block (the same for every viewer)."""
    context = _context(lang, zone, listing=listing)
    block = Markup(render_block(env, LIST, "incident_lists", context))
    return env.get_template("live/incident_list.html").render(listing=listing, block=block)
