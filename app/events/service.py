"""Recording events. Called by other services inside their transaction; never commits.

Each recorded event also leaves a wake-up note on the session (`info["wakeups"]`: incident id
→ newest seq). `app.db` turns the notes into a PostgreSQL NOTIFY inside the transaction and an
in-process wake-up after the commit, so the live push learns of committed changes only.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.events.models import Event
from app.incidents.models import Incident

INCIDENT_OPENED = "incident.opened"
INCIDENT_UPDATED = "incident.updated"
LOG_APPENDED = "log.appended"
WAKEUPS = "wakeups"


def record_event(session: Session, *, incident: Incident, type: str, data: dict[str, Any]) -> Event:
    """Add the incident's next event. The caller holds the incident's write lock."""
    assert incident.id is not None
    incident.event_seq += 1
    event = Event(incident_id=incident.id, seq=incident.event_seq, type=type, data=data)
    session.add(incident)
    session.add(event)
    session.info.setdefault(WAKEUPS, {})[incident.id] = incident.event_seq
    return event
