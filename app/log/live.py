"""The log's event type, `log.appended`, as the live push loads and shows it (docs/live.md).

Loaded in batches of plain rows rather than ORM objects (two to three times cheaper per event,
which is most of a catch-up), with pydantic's serializer writing the entry, so only the
envelope is JSON written in Python. A correction also brings the entry it corrects, as it is
now, so that a page can mark it corrected in place. A plain new entry (one that corrects
nothing) is rendered from the very values its writer wrote, without reading it back.
Every entry goes through `present_entry`, the one viewer filter: a restricted entry reaches a
viewer without clearance only withheld, so their seq still has no gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy import select as select_rows
from sqlmodel import Session

from app.accounts.viewer import Viewer
from app.bus import Written
from app.events.service import LOG_APPENDED
from app.live.events import EventType, LiveEvent, PageFragment, Stored
from app.log.models import LogEntry
from app.log.visibility import may_read, present_entry
from app.ui.templates import env, shared_context

_LOG_ENTRY: Table = LogEntry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Appended:
    """A new entry, with the entry it corrects (if any) and every correction of that one."""

    entry: LogEntry
    original: LogEntry | None = None
    corrections: tuple[tuple[int, str], ...] = ()  # (number, classification) of each


def load(session: Session, incident_id: int, stored: Sequence[Stored]) -> dict[int, Appended]:
    """The entries of a batch of `log.appended` events (one query, two more for corrections)."""
    numbers = {data["number"]: seq for seq, data in stored}
    rows = session.execute(
        select_rows(_LOG_ENTRY).where(
            _LOG_ENTRY.c.incident_id == incident_id, _LOG_ENTRY.c.number.in_(numbers)
        )
    ).all()
    # A row of the log_entry table has the LogEntry attributes, with the same column types
    # applied, which is all `present_entry` reads; it costs a fraction of an ORM object.
    entries = [cast(LogEntry, row) for row in rows]
    originals, corrections = _corrected_originals(session, incident_id, entries)
    loaded = {}
    for entry in entries:
        target = entry.corrects
        loaded[numbers[entry.number]] = Appended(
            entry,
            originals.get(target) if target else None,
            corrections.get(target, ()) if target else (),
        )
    return loaded


def _corrected_originals(
    session: Session, incident_id: int, entries: Iterable[LogEntry]
) -> tuple[dict[int, LogEntry], dict[int, tuple[tuple[int, str], ...]]]:
    """The entries that these entries correct, and every correction of each (two queries)."""
    targets = {e.corrects for e in entries if e.corrects is not None}
    if not targets:
        return {}, {}
    c = _LOG_ENTRY.c
    rows = session.execute(
        select_rows(_LOG_ENTRY).where(c.incident_id == incident_id, c.number.in_(targets))
    ).all()
    found = session.execute(
        select_rows(c.corrects, c.number, c.classification)
        .where(c.incident_id == incident_id, c.corrects.in_(targets))
        .order_by(c.number)
    ).all()
    corrections: dict[int, tuple[tuple[int, str], ...]] = {}
    for target, number, classification in found:
        corrections[target] = (*corrections.get(target, ()), (number, classification))
    return {row.number: cast(LogEntry, row) for row in rows}, corrections


def as_written(written: Written) -> Appended | None:
    """A plain new entry as its writer wrote it; a correction is read back (`load`)."""
    entry = written.subject
    if not isinstance(entry, LogEntry) or entry.corrects:
        return None
    return Appended(entry)


def data_json(event: LiveEvent[Appended], viewer: Viewer, lang: str) -> str:
    entry = event.subject.entry
    data = '{"entry": ' + present_entry(entry, viewer, lang=lang).model_dump_json()
    if entry.corrects is not None and may_read(viewer, entry.classification):
        data += f', "corrects": {int(entry.corrects)}'
    return data + "}"


def page(event: LiveEvent[Appended], viewer: Viewer, lang: str, zone: ZoneInfo) -> PageFragment:
    appended = event.subject
    original = None
    if appended.original is not None and may_read(viewer, appended.entry.classification):
        shown = [n for n, c in appended.corrections if may_read(viewer, c)]
        original = present_entry(appended.original, viewer, shown, lang=lang)
    context = shared_context(
        lang=lang,
        zone=zone,
        oob=(),
        # Entries are only ever appended to an open incident, and a closed incident's page
        # opens no socket, so an entry is pushed as it looks on an open incident.
        incident={"id": event.incident_id, "closed": False},
        new=present_entry(appended.entry, viewer, lang=lang),
        original=original,
    )
    return PageFragment(env.get_template("log/live_appended.html").render(context))


APPENDED: EventType[Appended] = EventType(
    name=LOG_APPENDED,
    load=load,
    data_json=data_json,
    page=page,
    blocks=("log-entries",),
    as_written=as_written,
)
EVENT_TYPES = (APPENDED,)
