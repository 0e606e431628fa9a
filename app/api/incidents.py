"""JSON API: incidents.

A write calls its action with the `Database`, then reads the answer in the request's read
session: after the commit, outside the write lock (app/actions.py).
"""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import ApiIncident, ApiUser, Db, DbSession
from app.incidents import service
from app.incidents.models import IncidentChange, IncidentCreate, IncidentPublic

router = APIRouter(prefix="/incidents", tags=["incidents"])


@router.post("", status_code=201, response_model=IncidentPublic, summary="Open an incident")
def open_incident(
    db: Db, session: DbSession, user: ApiUser, data: IncidentCreate
) -> IncidentPublic:
    incident = service.open_incident(db, actor=user, data=data)
    return service.present_incident(session, incident)


@router.get("", response_model=list[IncidentPublic], summary="List incidents, open ones first")
def list_incidents(session: DbSession, user: ApiUser) -> list[IncidentPublic]:
    return [service.present_incident(session, i) for i in service.list_incidents(session)]


@router.get("/{incident_id}", response_model=IncidentPublic, summary="Get one incident")
def get_incident(session: DbSession, user: ApiUser, incident: ApiIncident) -> IncidentPublic:
    return service.present_incident(session, incident)


@router.patch(
    "/{incident_id}",
    response_model=IncidentPublic,
    summary="Change alert level or phase (phase `closed` closes the incident)",
)
def change_incident(
    db: Db, session: DbSession, user: ApiUser, incident: ApiIncident, change: IncidentChange
) -> IncidentPublic:
    incident = service.change_incident(db, actor=user, incident=incident, change=change)
    return service.present_incident(session, incident)
