"""The incident list's snapshot, as the list page shows it and its live push sends it.

The list has no sequence of its own; its version is the sum of every incident's `event_seq`,
which grows with every change to any incident (incidents are never deleted), so the list page
can resume and ignore stale copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select as select_rows
from sqlmodel import Session

from app.incidents.models import Incident, IncidentPublic
from app.incidents.service import list_incidents, present_incident


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


def list_version(session: Session) -> int:
    total = session.execute(select_rows(func.coalesce(func.sum(Incident.event_seq), 0))).one()[0]
    return int(total)


def load_incident_list(session: Session) -> IncidentList:
    rows = list_incidents(session)
    return IncidentList(
        version=sum(i.event_seq for i in rows),
        incidents=[(present_incident(session, i), i.event_seq) for i in rows],
    )
