"""Reading events back with what they refer to, and rendering them as JSON per viewer.

`load_events` is the one read used for both replay and live fan-out, in batches, so a client
that catches up after 10,000 events costs a handful of queries, not 10,000. It reads plain
rows rather than ORM objects (two to three times cheaper per event, which is most of a
catch-up), and `event_json` lets pydantic's serializer write the entry, so the envelope is
the only JSON written in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from app.accounts.viewer import Viewer
from app.events.models import Event
from app.events.service import INCIDENT_OPENED, INCIDENT_UPDATED, LOG_APPENDED
from app.incidents.models import Incident, IncidentPublic
from app.incidents.service import present_incident
from app.log.models import LogEntry
from app.log.visibility import may_read, present_entry

_LOG_ENTRY: Table = LogEntry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """An event with the rows it refers to, loaded once and shared by every audience."""

    incident_id: int
    seq: int
    type: str
    data: dict[str, Any]
    entry: LogEntry | None
    incident: IncidentPublic | None  # read only for a batch with incident events


def head_seq(session: Session, incident_id: int) -> int | None:
    """The incident's newest seq, or None if the incident does not exist."""
    incident = session.get(Incident, incident_id)
    return None if incident is None else incident.event_seq


def load_events(
    session: Session, incident_id: int, *, after: int, limit: int = 500
) -> list[LiveEvent]:
    events = session.execute(
        select(Event.seq, Event.type, Event.data)
        .where(Event.incident_id == incident_id, Event.seq > after)
        .order_by(col(Event.seq))
        .limit(limit)
    ).all()
    if not events:
        return []
    numbers = [e.data["number"] for e in events if e.type == LOG_APPENDED]
    entries: dict[int, LogEntry] = {}
    if numbers:
        rows = session.execute(
            select_rows(_LOG_ENTRY).where(
                _LOG_ENTRY.c.incident_id == incident_id, _LOG_ENTRY.c.number.in_(numbers)
            )
        ).all()
        # A row of the log_entry table has the LogEntry attributes, with the same column types
        # applied, which is all `present_entry` reads; it costs a fraction of an ORM object.
        entries = {row.number: cast(LogEntry, row) for row in rows}
    public = None
    if any(e.type in (INCIDENT_OPENED, INCIDENT_UPDATED) for e in events):
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
    if event.type == LOG_APPENDED and event.entry is not None:
        data = '{"entry": ' + present_entry(event.entry, viewer).model_dump_json()
        if event.entry.corrects is not None and may_read(viewer, event.entry.classification):
            data += f', "corrects": {int(event.entry.corrects)}'
        data += "}"
    elif event.type in (INCIDENT_OPENED, INCIDENT_UPDATED) and event.incident is not None:
        data = (
            '{"incident": '
            + event.incident.model_dump_json()
            + ', "changes": '
            + json.dumps(event.data, ensure_ascii=False)
            + "}"
        )
    else:
        data = json.dumps(event.data, ensure_ascii=False)
    return f'{{"seq": {int(event.seq)}, "type": {json.dumps(event.type)}, "data": {data}}}'
