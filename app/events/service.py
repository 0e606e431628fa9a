"""Recording events. Called by other services inside their transaction; never commits."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.events.models import Event
from app.incidents.models import Incident

INCIDENT_OPENED = "incident.opened"
INCIDENT_UPDATED = "incident.updated"
LOG_APPENDED = "log.appended"


def record_event(session: Session, *, incident: Incident, type: str, data: dict[str, Any]) -> Event:
    """Add the incident's next event. The caller holds the incident's write lock."""
    assert incident.id is not None
    incident.event_seq += 1
    event = Event(incident_id=incident.id, seq=incident.event_seq, type=type, data=data)
    session.add(incident)
    session.add(event)
    return event
