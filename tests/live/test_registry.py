"""An event type is one declaration: load in batches, JSON for programs, the page's swaps.

A made-up `picture.updated` (and a second type sharing its loader) stands for the next domain:
nothing in `live/` changes for it. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from app.accounts.viewer import Viewer
from app.actions import transaction
from app.db import Database
from app.incidents.models import Incident
from app.incidents.service import record_event
from app.live.events import EventType, LiveEvent, PageFragment, Registry, Stored, event_json
from app.live.render import incident_message
from tests.factories import Account

ZONE = ZoneInfo("Europe/Oslo")
loads: list[list[int]] = []


def load(session: Session, incident_id: int, stored: Sequence[Stored]) -> dict[int, str]:
    loads.append([seq for seq, _ in stored])
    return {seq: f"picture {data['version']}" for seq, data in stored if data["version"] != 13}


def data_json(event: LiveEvent[str], viewer: Viewer, lang: str) -> str:
    return json.dumps({"picture": event.subject, "lang": lang})


def page(event: LiveEvent[str], viewer: Viewer, lang: str, zone: ZoneInfo) -> PageFragment:
    return PageFragment(f'<section id="picture" hx-swap-oob="true">{event.subject}</section>')


PICTURE = EventType(
    name="picture.updated", load=load, data_json=data_json, page=page, blocks=("picture",)
)
PINNED = EventType(
    name="picture.pinned",
    load=load,
    data_json=data_json,
    page=page,
    blocks=("picture", "picture-pins"),
)


def _record(db: Database, incident: Incident, *events: tuple[str, int]) -> int:
    with transaction(db) as tx:
        session = tx.session
        row = session.get(Incident, incident.id)
        assert row is not None
        for type, version in events:
            seq = record_event(session, incident=row, type=type, data={"version": version})
        session.commit()
    return seq


@pytest.fixture
def head(db: Database, incident: Incident) -> int:
    """The incident's seq before the made-up events."""
    with db.read_session() as session:
        row = session.get(Incident, incident.id)
        assert row is not None
        return row.event_seq


def test_types_sharing_a_loader_are_loaded_once_per_batch(
    db: Database, incident: Incident, staff: Account, head: int
) -> None:
    registry = Registry([PICTURE, PINNED])
    last = _record(db, incident, ("picture.updated", 1), ("picture.pinned", 2), ("other", 3))
    loads.clear()
    with db.read_session() as session:
        events = registry.load(session, incident.id, after=head)  # type: ignore[arg-type]
    assert loads == [[head + 1, head + 2]]
    assert [e.seq for e in events] == [head + 1, head + 2, last]
    viewer = Viewer.of(staff.user)
    assert json.loads(event_json(events[1], viewer, lang="en")) == {
        "seq": head + 2,
        "type": "picture.pinned",
        "data": {"picture": "picture 2", "lang": "en"},
    }
    assert incident_message(events[1], viewer, lang="nb", zone=ZONE) == (
        f'<template data-seq="{head + 2}" data-type="picture.pinned"'
        ' data-blocks="picture picture-pins">'
        '<section id="picture" hx-swap-oob="true">picture 2</section></template>'
    )


def test_an_event_nobody_declared_goes_with_its_stored_data(
    db: Database, incident: Incident, staff: Account, head: int
) -> None:
    _record(db, incident, ("other", 3), ("picture.updated", 13))  # 13: its subject is gone
    with db.read_session() as session:
        events = Registry([PICTURE]).load(session, incident.id, after=head)  # type: ignore[arg-type]
    viewer = Viewer.of(staff.user)
    for event in events:
        assert event.kind is None
        assert json.loads(event_json(event, viewer, lang="nb"))["data"] == event.data
        assert incident_message(event, viewer, lang="nb", zone=ZONE) == (
            f'<template data-seq="{event.seq}" data-type="{event.type}"></template>'
        )


def test_a_type_is_declared_once() -> None:
    with pytest.raises(ValueError, match="picture.updated"):
        Registry([PICTURE, PICTURE])
