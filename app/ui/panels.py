"""The incident page is composed of panels, each contributed by its domain (`Domain.panels`).

A panel is a template, included by `incidents/page.html` below the incident's header in the
order of app/domains.py, and a function that reads the values its template needs for one
reader (`PageView`). The page merges every panel's values into one context, so a panel's
blocks render alone (as an htmx answer) exactly as they do inside the page. Names must not
clash: `incident_context` refuses a panel whose values would overwrite another's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.accounts.models import User
from app.accounts.viewer import Viewer
from app.db import utcnow
from app.incidents.models import Incident
from app.incidents.service import present_incident

PAGE = "incidents/page.html"


@dataclass(frozen=True, slots=True)
class Refused:
    """A form a panel's write refused, shown again with what was typed and why."""

    panel: str  # the name of the panel whose form it is
    form: Mapping[str, Any]
    errors: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PageView:
    """One reader's view of an incident page: what each panel reads its values for."""

    session: Session
    user: User
    incident: Incident
    lang: str
    query: Mapping[str, str]  # the page's query string: filters, paging, a form to fill in
    refused: Refused | None = None

    @property
    def viewer(self) -> Viewer:
        return Viewer.of(self.user)

    def kept(self, panel: str) -> Refused | None:
        """The refused form of `panel`, if that is what this page shows again."""
        return self.refused if self.refused and self.refused.panel == panel else None


@dataclass(frozen=True, slots=True)
class Panel:
    """A domain's part of the incident page.

    `targets` are the ids of elements in its template whose block (named after the element,
    `log` for `#log`) the page answers alone, when an htmx request of the page aims at them.
    """

    name: str
    template: str
    context: Callable[[PageView], Mapping[str, Any]]
    targets: tuple[str, ...] = ()


def incident_context(view: PageView, panels: Sequence[Panel]) -> dict[str, Any]:
    """Everything `incidents/page.html` and the blocks of `panels` need, for one reader.

    `seq` is read before any panel reads its values, so they show at least that much.
    """
    context: dict[str, Any] = {
        "incident": present_incident(view.session, view.incident),
        "seq": view.incident.event_seq,
        "now": utcnow(),
        "nav": "incidents",
        "panels": panels,
    }
    for panel in panels:
        values = panel.context(view)
        clash = context.keys() & values.keys()
        if clash:
            raise ValueError(f"panel {panel.name!r} would overwrite {sorted(clash)}")
        context.update(values)
    return context
