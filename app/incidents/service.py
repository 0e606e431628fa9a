"""Incident use cases. Each change also writes a system entry in the log and an event."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.actions import Transaction, transaction
from app.db import Database, is_id, utcnow
from app.errors import Invalid, NotFound
from app.events.service import INCIDENT_OPENED, INCIDENT_UPDATED, record_event
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
from app.log.models import Author, Classification, EntryKind, SystemMessage
from app.log.service import lock_incident, write_entry

LEVEL_NAMES = {Level.green: N_("green"), Level.yellow: N_("yellow"), Level.red: N_("red")}
PHASE_NAMES = {
    Phase.alert: N_("alert and mobilisation"),
    Phase.first_meeting: N_("first meeting"),
    Phase.response: N_("response"),
    Phase.stand_down: N_("stand-down"),
    Phase.review: N_("review"),
    Phase.closed: N_("closed"),
}


def _system_entry(
    tx: Transaction, incident: Incident, actor: User, msgid: str, **params: str
) -> None:
    """A log line written by Samvirke, naming who did it. Its meaning (message id and the ids of
    its words) is what is stored and hashed; each reader sees it in their own language."""
    assert actor.id is not None
    write_entry(
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
