"""The one registration of every domain: the spine reads its event types, panels and jobs here.

The order is the order of the panels on the incident page.
"""

from __future__ import annotations

from typing import Any

from app.domain import Domain
from app.incidents.domain import DOMAIN as INCIDENTS
from app.live.events import EventType
from app.log.domain import DOMAIN as LOG
from app.ui.panels import Panel
from app.worker.jobs import Job

DOMAINS: tuple[Domain, ...] = (INCIDENTS, LOG)


def event_types() -> tuple[EventType[Any], ...]:
    return tuple(kind for domain in DOMAINS for kind in domain.events)


def panels() -> tuple[Panel, ...]:
    return tuple(panel for domain in DOMAINS for panel in domain.panels)


def jobs() -> tuple[Job, ...]:
    return tuple(job for domain in DOMAINS for job in domain.jobs)
