"""The incident's event types, `incident.opened` and `incident.updated`, and the list's push.

Both event types carry the incident as it is when the event is delivered, not as it was when
it happened (docs/live.md): a batch reads it once, whatever number of its events it holds. The
page gets the `incident_header` block of its own template; the incident list, whose push is not
an event but the whole list whenever its version grew, gets its `incident_lists` block.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from jinja2_fragments import render_block
from sqlmodel import Session

from app.accounts.viewer import Viewer
from app.events.service import INCIDENT_OPENED, INCIDENT_UPDATED
from app.incidents.listing import IncidentList
from app.incidents.models import Incident, IncidentPublic
from app.incidents.service import present_incident
from app.live.events import EventType, LiveEvent, PageFragment, Stored
from app.live.render import page_message
from app.ui.panels import PAGE
from app.ui.templates import env, shared_context

LIST = "incidents/list.html"


def load(session: Session, incident_id: int, stored: Sequence[Stored]) -> dict[int, IncidentPublic]:
    """The incident as it is now, for each of the batch's events (one read)."""
    incident = session.get(Incident, incident_id)
    assert incident is not None
    public = present_incident(session, incident)
    return {seq: public for seq, _ in stored}


def data_json(event: LiveEvent[IncidentPublic], viewer: Viewer, lang: str) -> str:
    changes = json.dumps(event.data, ensure_ascii=False)
    return '{"incident": ' + event.subject.model_dump_json() + ', "changes": ' + changes + "}"


def page(
    event: LiveEvent[IncidentPublic], viewer: Viewer, lang: str, zone: ZoneInfo
) -> PageFragment:
    incident = event.subject
    context = shared_context(
        lang=lang, zone=zone, oob=("incident_header",), incident=incident, seq=event.seq
    )
    header = render_block(env, PAGE, "incident_header", context)
    return PageFragment(header, closed=incident.closed)


EVENT_TYPES: tuple[EventType[IncidentPublic], ...] = tuple(
    EventType(name=name, load=load, data_json=data_json, page=page, blocks=("incident-header",))
    for name in (INCIDENT_OPENED, INCIDENT_UPDATED)
)


def list_message(listing: IncidentList, viewer: Viewer, *, lang: str, zone: ZoneInfo) -> str:
    """The list page's message: the whole list block (the same for every viewer). It names no
    blocks: no htmx answer replaces the list, so there is nothing to apply again."""
    context = shared_context(lang=lang, zone=zone, oob=("incident_lists",), listing=listing)
    block = PageFragment(render_block(env, LIST, "incident_lists", context))
    return page_message(listing.version, block)
