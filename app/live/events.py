"""Reading events back with what they refer to, and rendering them as JSON per viewer.

`load_events` is the one read used for both replay and live fan-out, in batches, so a client
that catches up after 10,000 events costs a handful of queries, not 10,000. It reads plain
rows rather than ORM objects (two to three times cheaper per event, which is most of a
catch-up), and `event_json` lets pydantic's serializer write the entry, so the envelope is
the only JSON written in Python. A correction also brings the entry it corrects, as it is now,
so that a page can mark it corrected in place.

`load_incident_list` is the incident list's snapshot. The list has no sequence of its own; its
version is the sum of every incident's `event_seq`, which grows with every change to any
incident (incidents are never deleted), so the list page can resume and ignore stale copies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from app.accounts.viewer import Viewer
from app.bus import Written
from app.db import is_id
from app.events.models import Event
from app.events.service import INCIDENT_OPENED, INCIDENT_UPDATED, LOG_APPENDED
from app.incidents.models import Incident, IncidentPublic
from app.incidents.service import list_incidents, present_incident
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
    original: LogEntry | None = None  # the entry that `entry` corrects, if it is a correction
    corrections: tuple[tuple[int, str], ...] = ()  # (number, classification) of its corrections


@dataclass(frozen=True, slots=True)
class IncidentList:
    """Every incident, as the list page shows them, with each one's newest seq."""

    version: int
    incidents: list[tuple[IncidentPublic, int]]

    @property
    def open(self) -> list[tuple[IncidentPublic, int]]:
        return [row for row in self.incidents if not row[0].closed]

    @property
    def closed(self) -> list[tuple[IncidentPublic, int]]:
        return [row for row in self.incidents if row[0].closed]


def head_seq(session: Session, incident_id: int) -> int | None:
    """The incident's newest seq, or None if the incident does not exist."""
    incident = session.get(Incident, incident_id) if is_id(incident_id) else None
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
    originals, corrections = _corrected_originals(session, incident_id, entries.values())
    public = None
    if any(e.type in (INCIDENT_OPENED, INCIDENT_UPDATED) for e in events):
        incident = session.get(Incident, incident_id)
        assert incident is not None
        public = present_incident(session, incident)
    loaded = []
    for e in events:
        entry = entries.get(e.data["number"]) if e.type == LOG_APPENDED else None
        target = entry.corrects if entry is not None else None
        loaded.append(
            LiveEvent(
                incident_id=incident_id,
                seq=e.seq,
                type=e.type,
                data=e.data,
                entry=entry,
                incident=public,
                original=originals.get(target) if target else None,
                corrections=corrections.get(target, ()) if target else (),
            )
        )
    return loaded


def just_written(incident_id: int, written: Sequence[Written]) -> list[LiveEvent] | None:
    """Events as their writer recorded them, if that is all it takes to render every one: new
    entries that correct nothing. A correction brings the entry it corrects and an incident
    change the incident as it is now; with any of those, None: read them with `load_events`."""
    events = []
    for event in written:
        entry = event.subject
        if event.type != LOG_APPENDED or not isinstance(entry, LogEntry) or entry.corrects:
            return None
        events.append(
            LiveEvent(
                incident_id=incident_id,
                seq=event.seq,
                type=event.type,
                data=event.data,
                entry=entry,
                incident=None,
            )
        )
    return events


def _corrected_originals(
    session: Session, incident_id: int, entries: Iterable[LogEntry]
) -> tuple[dict[int, LogEntry], dict[int, tuple[tuple[int, str], ...]]]:
    """The entries that these entries correct, and every correction of each (two queries)."""
    targets = {e.corrects for e in entries if e.corrects is not None}
    if not targets:
        return {}, {}
    c = _LOG_ENTRY.c
    rows = session.execute(
        select_rows(_LOG_ENTRY).where(c.incident_id == incident_id, c.number.in_(targets))
    ).all()
    found = session.execute(
        select_rows(c.corrects, c.number, c.classification)
        .where(c.incident_id == incident_id, c.corrects.in_(targets))
        .order_by(c.number)
    ).all()
    corrections: dict[int, tuple[tuple[int, str], ...]] = {}
    for target, number, classification in found:
        corrections[target] = (*corrections.get(target, ()), (number, classification))
    return {row.number: cast(LogEntry, row) for row in rows}, corrections


def list_version(session: Session) -> int:
    total = session.execute(select_rows(func.coalesce(func.sum(Incident.event_seq), 0))).one()[0]
    return int(total)


def load_incident_list(session: Session) -> IncidentList:
    rows = list_incidents(session)
    return IncidentList(
        version=sum(i.event_seq for i in rows),
        incidents=[(present_incident(session, i), i.event_seq) for i in rows],
    )


def event_json(event: LiveEvent, viewer: Viewer, *, lang: str) -> str:
    """The public WebSocket message of an event for one audience and language (docs/live.md)."""
    if event.type == LOG_APPENDED and event.entry is not None:
        data = '{"entry": ' + present_entry(event.entry, viewer, lang=lang).model_dump_json()
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
