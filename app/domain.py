"""What a domain declares to the spine: one `Domain` value per package, listed in app/domains.py.

A domain (the log, incidents, accounts; next the picture, cards, alerts, liaisons) keeps its
models, service, event types, page panels and background jobs in its own package. The spine
(live push, pages, worker) knows none of them by name: it reads what each `Domain` declares.
Adding a domain is adding its package and one line in app/domains.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.live.events import EventType
    from app.ui.panels import Panel
    from app.worker.jobs import Job


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    # Its event types (`<domain>/live.py`): how the live push loads, sends and shows each one.
    events: tuple[EventType[Any], ...] = ()
    # Its parts of the incident page (`<domain>/panel.py`), shown in the order of DOMAINS.
    panels: tuple[Panel, ...] = ()
    # Its background work: kinds of queued items and periodic jobs (app/worker/jobs.py).
    jobs: tuple[Job, ...] = ()
