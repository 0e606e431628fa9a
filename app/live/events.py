"""Event types and their registry: how the push loads and renders events, naming none of them.

Each event type is declared once, by its domain (`app/<domain>/live.py`, on its `Domain` in
app/domains.py): how to load what a batch of its events refers to, its JSON for programs, its
page fragment for each audience, and the page blocks it touches. This module is the machinery.

`Registry.load` is the one read used for both replay and live fan-out, in batches: one query
for the event rows, then one `load` call per loader for all of its events in the batch (event
types that share a loader, such as an incident's opened and updated, are loaded together), so
a client that catches up after 10,000 events costs a handful of queries, not 10,000.
`Registry.as_written` is the fast path: events whose types can render from what their writer
wrote are fanned out without reading anything back.

`event_json` writes the programs' message around the type's `data` (docs/live.md); an event
whose type nobody declared (or whose subject is gone) is sent with its stored data alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.accounts.viewer import Viewer
from app.bus import Written
from app.db import is_id
from app.events.models import Event
from app.incidents.models import Incident

S = TypeVar("S")

Stored = tuple[int, dict[str, Any]]  # an event row as a loader gets it: (seq, data)


@dataclass(frozen=True, slots=True)
class PageFragment:
    """An event's out-of-band swaps for the incident page, as one audience may see them."""

    html: str
    closed: bool = False  # the incident is closed: the page stops following it (`data-closed`)


@dataclass(frozen=True, slots=True, eq=False)
class EventType(Generic[S]):
    """One event type, as its domain declares it; `S` is what `load` gives each event.

    - `load(session, incident_id, stored)`: the subjects of a batch of this type's events, by
      seq, in a few queries for the whole batch; a seq left out is sent from its stored data.
    - `data_json(event, viewer, lang)`: the JSON text of the message's `data` for programs.
    - `page(event, viewer, lang, zone)`: the incident page's out-of-band swaps.
    - `blocks`: the ids of the page's blocks (elements with `data-seq`) the swaps touch, so
      live.js re-applies the event after an htmx answer replaces one of them.
    - `as_written(written)`: the subject from the values its writer wrote, when that is all
      it takes to render the event (then the push reads nothing back), else None.
    """

    name: str
    load: Callable[[Session, int, Sequence[Stored]], Mapping[int, S]]
    data_json: Callable[[LiveEvent[S], Viewer, str], str]
    page: Callable[[LiveEvent[S], Viewer, str, ZoneInfo], PageFragment]
    blocks: tuple[str, ...]
    as_written: Callable[[Written], S | None] | None = None


@dataclass(frozen=True, slots=True)
class LiveEvent(Generic[S]):
    """An event with its subject, loaded once and shared by every audience. `kind` is None
    when no domain declared the type, or its subject was not found: then `subject` is None."""

    incident_id: int
    seq: int
    type: str
    data: dict[str, Any]
    subject: S
    kind: EventType[S] | None


class Registry:
    """Every declared event type, by name (built from app/domains.py in `create_app`)."""

    def __init__(self, types: Iterable[EventType[Any]]) -> None:
        self.types: dict[str, EventType[Any]] = {}
        for kind in types:
            if kind.name in self.types:
                raise ValueError(f"event type {kind.name!r} is declared twice")
            self.types[kind.name] = kind

    def load(
        self, session: Session, incident_id: int, *, after: int, limit: int = 500
    ) -> list[LiveEvent[Any]]:
        """The incident's events after seq `after`, oldest first, at most `limit`."""
        rows = session.execute(
            select(Event.seq, Event.type, Event.data)
            .where(Event.incident_id == incident_id, Event.seq > after)
            .order_by(col(Event.seq))
            .limit(limit)
        ).all()
        batches: dict[Callable[..., Mapping[int, Any]], list[Stored]] = {}
        for row in rows:
            kind = self.types.get(row.type)
            if kind is not None:
                batches.setdefault(kind.load, []).append((row.seq, row.data))
        subjects: dict[int, Any] = {}
        for load, stored in batches.items():
            subjects.update(load(session, incident_id, stored))
        events = []
        for row in rows:
            subject = subjects.get(row.seq)
            kind = self.types.get(row.type) if subject is not None else None
            events.append(LiveEvent(incident_id, row.seq, row.type, row.data, subject, kind))
        return events

    def as_written(
        self, incident_id: int, written: Sequence[Written]
    ) -> list[LiveEvent[Any]] | None:
        """The events as their writer recorded them, if every one can be rendered from that;
        else None: read them with `load`."""
        events = []
        for event in written:
            kind = self.types.get(event.type)
            subject = kind.as_written(event) if kind and kind.as_written else None
            if subject is None:
                return None
            events.append(LiveEvent(incident_id, event.seq, event.type, event.data, subject, kind))
        return events


def head_seq(session: Session, incident_id: int) -> int | None:
    """The incident's newest seq, or None if the incident does not exist."""
    incident = session.get(Incident, incident_id) if is_id(incident_id) else None
    return None if incident is None else incident.event_seq


def event_json(event: LiveEvent[Any], viewer: Viewer, *, lang: str) -> str:
    """The public WebSocket message of an event for one audience and language (docs/live.md)."""
    kind = event.kind
    if kind is None:
        data = json.dumps(event.data, ensure_ascii=False)
    else:
        data = kind.data_json(event, viewer, lang)
    return f'{{"seq": {int(event.seq)}, "type": {json.dumps(event.type)}, "data": {data}}}'
