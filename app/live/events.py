"""Reading events back with what they refer to, and rendering them as JSON per viewer.

`load_events` is the one read used for both replay and live fan-out, in batches, so a client
that catches up after 10,000 events costs a handful of queries, not 10,000.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from app.accounts.viewer import Viewer
from app.events.models import Event
from app.events.service import INCIDENT_OPENED, INCIDENT_UPDATED, LOG_APPENDED
from app.incidents.models import Incident, IncidentPublic
from app.incidents.service import present_incident
from app.log.models import LogEntry
from app.log.visibility import may_read, present_entry


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """An event with the rows it refers to, loaded once and shared by every audience."""

    incident_id: int
    seq: int
    type: str
    data: dict[str, Any]
    entry: LogEntry | None
    incident: IncidentPublic


def head_seq(session: Session, incident_id: int) -> int | None:
    """The incident's newest seq, or None if the incident does not exist."""
    incident = session.get(Incident, incident_id)
    return None if incident is None else incident.event_seq


def load_events(session: Session, incident_id: int, *, after: int, limit: int = 500) -> list[LiveEvent]:
    events = list(
        session.exec(
            select(Event)
            .where(Event.incident_id == incident_id, Event.seq > after)
            .order_by(col(Event.seq))
            .limit(limit)
        ).all()
    )
    if not events:
        return []
    numbers = [e.data["number"] for e in events if e.type == LOG_APPENDED]
    entries: dict[int, LogEntry] = {}
    if numbers:
        rows = session.exec(
            select(LogEntry).where(
                LogEntry.incident_id == incident_id, col(LogEntry.number).in_(numbers)
            )
        ).all()
        entries = {row.number: row for row in rows}
    incident = session.get(Incident, incident_id)
    assert incident is not None
    public = present_incident(session, incident)
    return [
        LiveEvent(
            incident_id=incident_id,
            seq=e.seq,
            type=e.type,
            data=e.data,
            entry=entries.get(e.data["number"]) if e.type == LOG_APPENDED else None,
            incident=public,
        )
        for e in events
    ]


def event_json(event: LiveEvent, viewer: Viewer) -> str:
    """The public WebSocket message of an event for one audience (docs/live.md)."""
    data: dict[str, Any]
    if event.type == LOG_APPENDED and event.entry is not None:
        entry = present_entry(event.entry, viewer)
        data = {"entry": entry.model_dump(mode="json")}
        if event.entry.corrects is not None and may_read(viewer, event.entry.classification):
            data["corrects"] = event.entry.corrects
    elif event.type in (INCIDENT_OPENED, INCIDENT_UPDATED):
        data = {"incident": event.incident.model_dump(mode="json"), "changes": event.data}
    else:
        data = dict(event.data)
    return json.dumps({"seq": event.seq, "type": event.type, "data": data}, ensure_ascii=False)
