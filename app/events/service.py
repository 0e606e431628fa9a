"""Recording events. Called by other services inside their transaction; never commits.

Each recorded event also leaves a wake-up note on the session (`info["wakeups"]`: incident id
→ newest seq and the events as written). `app.db` turns the notes into a PostgreSQL NOTIFY
inside the transaction and an in-process wake-up after the commit, so the live push learns of
committed changes only. The events as written spare this instance's live push reading back
what it was just told about; other instances, and a transaction that wrote more than
`WRITTEN_MAX` events, get the seq only and read the events from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from app.db import utcnow
from app.events.models import Event
from app.incidents.models import Incident

INCIDENT_OPENED = "incident.opened"
INCIDENT_UPDATED = "incident.updated"
LOG_APPENDED = "log.appended"
WAKEUPS = "wakeups"
WRITTEN_MAX = 64  # events per incident and transaction carried to the live push in memory


@dataclass(frozen=True, slots=True)
class Written:
    """An event as its writer recorded it. `subject` is the row it is about, as written (the
    new LogEntry of a log.appended), or None."""

    seq: int
    type: str
    data: dict[str, Any]
    subject: object | None


_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
_INCIDENTS: Table = Incident.__table__  # type: ignore[attr-defined]
# Built once: the hot path (every log append) reuses their compiled SQL. The UPDATE's SET
# clause is whatever columns the parameters name.
_INSERT_EVENT = insert(_EVENTS)
_UPDATE_INCIDENT = update(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("incident_key"))


def record_event(
    session: Session,
    *,
    incident: Incident,
    type: str,
    data: dict[str, Any],
    incident_changes: Mapping[str, Any] | None = None,
    subject: object | None = None,
) -> int:
    """Add the incident's next event; returns its seq. The caller holds the incident's write lock.

    Written at once, in the caller's transaction: the event row, and the incident's new
    `event_seq` in one UPDATE together with `incident_changes` (other columns the same write
    changes, such as the log's head). The incident object gets the same values as committed
    ones, so it stays current and the session has nothing left to flush for it. These are Core
    statements on the session's connection: they do not flush the session first, so a new
    incident must have been flushed (given its id) before its first event. `subject` is
    handed to the live push with the event (see the module's docstring).
    """
    assert incident.id is not None
    seq = incident.event_seq + 1
    changes = {**(incident_changes or {}), "event_seq": seq}
    connection = session.connection()
    connection.execute(
        _INSERT_EVENT,
        {
            "incident_id": incident.id,
            "seq": seq,
            "type": type,
            "data": data,
            "created_at": utcnow(),
        },
    )
    connection.execute(_UPDATE_INCIDENT, {"incident_key": incident.id, **changes})
    for key, value in changes.items():
        set_committed_value(incident, key, value)
    wakeups: dict[int, tuple[int, list[Written] | None]] = session.info.setdefault(WAKEUPS, {})
    _, written = wakeups.get(incident.id, (0, []))
    if written is not None and len(written) < WRITTEN_MAX:
        written.append(Written(seq=seq, type=type, data=data, subject=subject))
    else:
        written = None  # too many to hold: the live push reads them back in batches
    wakeups[incident.id] = (seq, written)
    return seq
