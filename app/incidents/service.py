"""Incident use cases, and the incident's own rules: its write lock and its counters.

Each change also writes a system entry in the log and an event.

Every write to an incident's history (its log, its events) first takes the incident's write
lock (`lock_incident`), and moves the counters on its row through `record_event`: `event_seq`
with each event, and with a log entry the log's count and head hash and the last activity, in
one UPDATE. The lock and those counters are what make event seqs and log numbers gap-free and
the chain linear with many writers. Both are prebuilt Core statements on the session's
connection rather than ORM flushes: every log append runs them, and on SQLite every writer
waits for them, in turn.

This module and app.log.service import each other as modules: an incident's change writes to
its log, and the log's append moves the incident's counters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy import select as core_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.actions import Transaction, transaction
from app.db import Database, is_id, utcnow
from app.errors import IncidentClosed, Invalid, NotFound
from app.events import service as events
from app.events.service import INCIDENT_OPENED, INCIDENT_UPDATED
from app.i18n import N_
from app.incidents.models import (
    Category,
    Incident,
    IncidentChange,
    IncidentCreate,
    IncidentPublic,
    Level,
    Phase,
)
from app.log import checkpoints
from app.log import service as log_service
from app.log.models import Author, Classification, EntryKind, LogEntry, SystemMessage

LEVEL_NAMES = {Level.green: N_("green"), Level.yellow: N_("yellow"), Level.red: N_("red")}
PHASE_NAMES = {
    Phase.alert: N_("alert and mobilisation"),
    Phase.first_meeting: N_("first meeting"),
    Phase.response: N_("response"),
    Phase.stand_down: N_("stand-down"),
    Phase.review: N_("review"),
    Phase.closed: N_("closed"),
}

_INCIDENTS: Table = Incident.__table__  # type: ignore[attr-defined]
# Built once: the hot path (every log append) reuses their compiled SQL. The UPDATE's SET
# clause is whatever columns the parameters name.
_LOCK_INCIDENT = (
    core_select(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("incident_key")).with_for_update()
)
_UPDATE_INCIDENT = update(_INCIDENTS).where(_INCIDENTS.c.id == bindparam("incident_key"))


def lock_incident(session: Session, incident: Incident) -> Incident:
    """Take the incident's write lock and reload it; refuse a closed incident.

    The lock: on PostgreSQL `SELECT … FOR UPDATE` of the incident row; on SQLite the write
    transaction itself, which this first statement begins (`BEGIN IMMEDIATE`). Every column is
    read again under the lock and set on `incident` as committed values, so nothing read
    before (the API reads the incident in a short read session of its own) is trusted; an
    incident from another session joins this one, so later changes to it are flushed here.
    """
    row = session.connection().execute(_LOCK_INCIDENT, {"incident_key": incident.id}).first()
    if row is None:
        raise NotFound("Incident {id} does not exist.", id=incident.id)
    if incident not in session:
        session.add(incident)
    for key, value in row._mapping.items():
        set_committed_value(incident, key, value)
    if incident.is_closed:
        raise IncidentClosed()
    return incident


def record_event(
    session: Session,
    *,
    incident: Incident,
    type: str,
    data: dict[str, Any],
    appended: LogEntry | None = None,
) -> int:
    """Record the incident's next event and move its counters; returns the event's seq.

    The caller holds the incident's write lock. `appended` is the entry a `log.appended`
    adds, as written: the event's subject, the log's new head and the incident's last
    activity. The event row (app.events) and one UPDATE of the incident row go out at once,
    in the caller's transaction; the incident object gets the same values as committed ones,
    so it stays current and the session has nothing left to flush for it.
    """
    seq = events.add_event(session, incident=incident, type=type, data=data, subject=appended)
    changes: dict[str, Any] = {"event_seq": seq}
    if appended is not None:
        changes["log_count"] = appended.number
        changes["log_head_hash"] = appended.hash
        changes["last_activity_at"] = appended.recorded_at
    session.connection().execute(_UPDATE_INCIDENT, {"incident_key": incident.id, **changes})
    for key, value in changes.items():
        set_committed_value(incident, key, value)
    return seq


def _system_entry(
    tx: Transaction, incident: Incident, actor: User, msgid: str, **params: str
) -> None:
    """A log line written by Samvirke, naming who did it. Its meaning (message id and the ids of
    its words) is what is stored and hashed; each reader sees it in their own language."""
    assert actor.id is not None
    log_service.write_entry(
        tx,
        incident=incident,
        kind=EntryKind.system,
        text="",
        classification=Classification.internal,
        author=None,
        message=SystemMessage(
            msgid=msgid, params=params, actor=Author(id=actor.id, name=actor.name)
        ),
    )


def open_incident(db: Database, *, actor: User, data: IncidentCreate) -> Incident:
    assert actor.id is not None
    incident = Incident(
        title=data.title,
        category=data.category,
        level=data.level,
        phase=Phase.alert,
        exercise=data.exercise,
        opened_by_id=actor.id,
    )
    message = (
        N_("Exercise opened at alert level {level}.")
        if data.exercise
        else N_("Incident opened at alert level {level}.")
    )
    with transaction(db) as tx:
        tx.session.add(incident)
        tx.session.flush()
        record_event(tx.session, incident=incident, type=INCIDENT_OPENED, data={})
        _system_entry(tx, incident, actor, message, level=LEVEL_NAMES[data.level])
    return incident


def change_incident(
    db: Database, *, actor: User, incident: Incident, change: IncidentChange
) -> Incident:
    """Change the alert level and/or phase; phase `closed` closes the incident for good."""
    if change.level is None and change.phase is None:
        raise Invalid("Nothing to change: give a new level or phase.")
    with transaction(db) as tx:
        lock_incident(tx.session, incident)
        changed: dict[str, str] = {}
        if change.level is not None and change.level != incident.level:
            _system_entry(
                tx,
                incident,
                actor,
                N_("Alert level changed from {old} to {new}."),
                old=LEVEL_NAMES[Level(incident.level)],
                new=LEVEL_NAMES[change.level],
            )
            incident.level = changed["level"] = change.level
        if change.phase is not None and change.phase != incident.phase:
            if change.phase == Phase.closed:
                _system_entry(tx, incident, actor, N_("Incident closed."))
                incident.closed_at = utcnow()
            else:
                _system_entry(
                    tx,
                    incident,
                    actor,
                    N_("Phase changed from {old} to {new}."),
                    old=PHASE_NAMES[Phase(incident.phase)],
                    new=PHASE_NAMES[change.phase],
                )
            incident.phase = changed["phase"] = change.phase
            checkpoints.sign_head(tx.session, incident=incident, signer=tx.signer)
        if changed:
            record_event(tx.session, incident=incident, type=INCIDENT_UPDATED, data=changed)
    return incident


# Built once (`session.get` builds its query anew on every call): every request runs it.
_GET_INCIDENT = select(Incident).where(col(Incident.id) == bindparam("incident_id"))


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = (
        session.exec(_GET_INCIDENT, params={"incident_id": incident_id}).first()
        if is_id(incident_id)
        else None
    )
    if incident is None:
        raise NotFound("Incident {id} does not exist.", id=incident_id)
    return incident


def list_incidents(session: Session) -> list[Incident]:
    """Open incidents first, most recently active first."""
    return list(
        session.exec(
            select(Incident).order_by(
                col(Incident.closed_at).is_not(None), col(Incident.last_activity_at).desc()
            )
        ).all()
    )


def present_incident(session: Session, incident: Incident) -> IncidentPublic:
    opener = session.get(User, incident.opened_by_id)
    return IncidentPublic(
        id=incident.id or 0,
        title=incident.title,
        category=Category(incident.category),
        level=Level(incident.level),
        phase=Phase(incident.phase),
        exercise=incident.exercise,
        closed=incident.is_closed,
        opened_by=opener.name if opener else None,
        opened_at=incident.opened_at,
        closed_at=incident.closed_at,
        last_activity_at=incident.last_activity_at,
        log_count=incident.log_count,
    )
