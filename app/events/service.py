"""Recording events: the incident's next seq and its event row. Never commits.

Called through `app.incidents.service.record_event`, which holds the incident's write lock and
moves the incident's counters (its `event_seq` among them) in the same UPDATE of its row.

Each event is also published on the bus (app/bus.py), with the event as written: handed to
this process's live push after the commit, which then need not read back what it was just told
about, and said to other instances (PostgreSQL NOTIFY) and a SQLite server (from the CLI) as
the incident and seq only, so they read it from the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert
from sqlmodel import Session

from app.bus import EventsWritten, Written, publish_on_commit
from app.db import utcnow
from app.events.models import Event
from app.incidents.models import Incident

INCIDENT_OPENED = "incident.opened"
INCIDENT_UPDATED = "incident.updated"
LOG_APPENDED = "log.appended"

_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
# Built once: the hot path (every log append) reuses its compiled SQL.
_INSERT_EVENT = insert(_EVENTS)


def add_event(
    session: Session,
    *,
    incident: Incident,
    type: str,
    data: dict[str, Any],
    subject: object | None = None,
) -> int:
    """Insert the incident's next event, in the caller's transaction; returns its seq.

    A Core statement on the session's connection: it does not flush the session first, so a
    new incident must have been flushed (given its id) before its first event. `subject` is
    handed to this process's live push with the event (see the module's docstring).
    """
    assert incident.id is not None
    seq = incident.event_seq + 1
    session.connection().execute(
        _INSERT_EVENT,
        {
            "incident_id": incident.id,
            "seq": seq,
            "type": type,
            "data": data,
            "created_at": utcnow(),
        },
    )
    written = Written(seq=seq, type=type, data=data, subject=subject)
    publish_on_commit(session, EventsWritten(incident.id, seq, (written,)))
    return seq
