"""Log use cases: append, correct, read, export (verifying: app/log/verify.py).

Appends take the incident's write lock first (`incidents.lock_incident`), then the next
number and the previous hash from its row, so numbers are gap-free and the chain is linear even
with many writers; the entry's event moves the incident's counters (`incidents.record_event`).

The write path (the lock, `write_entry`, the event) runs a handful of prebuilt Core statements
on the session's connection rather than ORM flushes: it is the hot path of the whole product,
and on SQLite every writer waits for it, in turn.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert
from sqlmodel import Session, col, select

from app.accounts.models import User
from app.accounts.viewer import Viewer
from app.actions import Transaction, transaction
from app.db import Database, utcnow
from app.errors import Conflict, Invalid, NotAllowed, NotFound
from app.events.service import LOG_APPENDED
from app.i18n import N_, Term
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.log import chain, checkpoints
from app.log.models import (
    CLASSIFICATION_NAMES,
    CLASSIFICATION_RANK,
    Classification,
    EntryKind,
    LogEntry,
    LogEntryCreate,
    LogEntryPublic,
    LogPage,
    SystemMessage,
)
from app.log.verify import iter_entries
from app.log.visibility import may_read, present_entry, readable_classifications

FUTURE_TOLERANCE = timedelta(minutes=5)
# Before this no crisis is logged; it also keeps times where UTC and the chain's four-digit
# years can represent them (year 1 at +01:00 is before the start of the calendar in UTC).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_MAX = 1000


_ENTRIES: Table = LogEntry.__table__  # type: ignore[attr-defined]
_INSERT_ENTRY = insert(_ENTRIES)


def write_entry(
    tx: Transaction,
    *,
    incident: Incident,
    kind: EntryKind,
    text: str,
    classification: Classification,
    author: User | None,
    occurred_at: datetime | None = None,
    corrects: int | None = None,
    request_key: str | None = None,
    message: SystemMessage | None = None,
) -> LogEntry:
    """Chain a new entry and its event onto a locked incident, in an action's transaction
    (it may sign a checkpoint with the key the transaction lends). Never commits.

    A system entry gives its `message` and an empty `text`: the message is what is hashed and
    stored, and each reader sees it in their own language.

    Returns the entry as written: an object outside the session (the row went in by a Core
    INSERT, the incident's new head with its event's UPDATE), made without validation, since
    it holds exactly the values just written.
    """
    assert incident.id is not None
    session = tx.session
    recorded_at = utcnow()
    # In UTC, as the database gives it back: the entry returned (the 201, the live push) and
    # the entry read later must be the same.
    occurred = occurred_at.astimezone(UTC) if occurred_at else recorded_at
    number = incident.log_count + 1
    prev_hash = incident.log_head_hash or chain.GENESIS
    author_id = author.id if author else None
    author_name = author.name if author else None
    salt = chain.new_salt()
    content = None if message is None else message.model_dump(mode="json")
    digest = chain.content_digest(
        kind=kind,
        text=None if message is not None else text,
        author_id=author_id,
        author_name=author_name,
        corrects=corrects,
        salt=salt,
        message=content,
    )
    entry_hash = chain.entry_hash(
        version=chain.VERSION,
        incident_id=incident.id,
        number=number,
        classification=classification,
        occurred_at=occurred,
        recorded_at=recorded_at,
        digest=digest,
        prev_hash=prev_hash,
    )
    row: dict[str, Any] = {
        "incident_id": incident.id,
        "number": number,
        "kind": kind.value,
        "text": text,
        "classification": classification.value,
        "author_id": author_id,
        "author_name": author_name,
        "corrects": corrects,
        "occurred_at": occurred,
        "recorded_at": recorded_at,
        "content_digest": digest,
        "prev_hash": prev_hash,
        "hash": entry_hash,
        "request_key": request_key,
        "salt": salt,
        "message": None if content is None else chain.canonical(content).decode(),
    }
    session.connection().execute(_INSERT_ENTRY, row)
    entry = LogEntry.model_construct(**row)
    incidents.record_event(
        session,
        incident=incident,
        type=LOG_APPENDED,
        data={"number": number, "classification": classification.value, "hash": entry_hash},
        appended=entry,
    )
    checkpoints.after_entry(session, incident=incident, recorded_at=recorded_at, signer=tx.signer)
    return entry


def append_entry(
    db: Database,
    *,
    actor: User,
    incident: Incident,
    data: LogEntryCreate,
    request_key: str | None = None,
) -> LogEntryPublic:
    """Log a decision, information, action or message (or a correction of an earlier entry).

    With a `request_key`, a retry of a request that was logged already (its answer was lost)
    gets that entry back instead of a second one; the same key with other content is refused.
    The answer is in the instance's language: a person's entry has no system message to
    translate, so it does not depend on the reader's.
    """
    viewer = Viewer.of(actor)
    with transaction(db) as tx:
        session = tx.session
        incidents.lock_incident(session, incident)
        if request_key is not None:
            earlier = _entry_by_key(session, incident_id=incident.id, key=request_key)
            if earlier is not None:
                _check_same_request(earlier, actor, data)
                return _present_all(session, viewer, [earlier], lang=tx.language)[0]
        classification = _classification(session, viewer, incident, data)
        if data.occurred_at is not None and data.occurred_at > utcnow() + FUTURE_TOLERANCE:
            raise Invalid("The time it happened cannot be in the future.", field="occurred_at")
        if data.occurred_at is not None and data.occurred_at < EARLIEST:
            raise Invalid("The time it happened is too far in the past.", field="occurred_at")
        entry = write_entry(
            tx,
            incident=incident,
            kind=EntryKind(data.kind.value),
            text=data.text,
            classification=classification,
            author=actor,
            occurred_at=data.occurred_at,
            corrects=data.corrects,
            request_key=request_key,
        )
    return present_entry(entry, viewer, lang=tx.language)


def _classification(
    session: Session, viewer: Viewer, incident: Incident, data: LogEntryCreate
) -> Classification:
    """The new entry's classification: as asked, else its target's (a correction) or internal;
    never below a corrected entry's, never one the writer may not read."""
    classification = data.classification
    if data.corrects is not None:
        target = _get_entry(session, incident_id=incident.id, number=data.corrects)
        if target is None or not may_read(viewer, target.classification):
            raise Invalid(
                "Entry #{number} does not exist in this log.",
                field="corrects",
                number=data.corrects,
            )
        target_class = Classification(target.classification)
        if classification is None:
            classification = target_class
        elif CLASSIFICATION_RANK[classification] < CLASSIFICATION_RANK[target_class]:
            raise Invalid(
                N_(
                    "A correction must be as strictly classified as the entry it corrects ({classification})."
                ),
                field="classification",
                classification=Term(CLASSIFICATION_NAMES[target_class]),
            )
    classification = classification or Classification.internal
    if not may_read(viewer, classification):
        raise NotAllowed("You are not cleared to write restricted entries.", field="classification")
    return classification


def _entry_by_key(session: Session, *, incident_id: int | None, key: str) -> LogEntry | None:
    return session.exec(
        select(LogEntry).where(LogEntry.incident_id == incident_id, LogEntry.request_key == key)
    ).first()


def _check_same_request(earlier: LogEntry, actor: User, data: LogEntryCreate) -> None:
    """A retry says what the first request said; anything else reusing its key is refused."""
    occurred = data.occurred_at.astimezone(UTC) if data.occurred_at else None
    same = (
        earlier.author_id == actor.id
        and earlier.kind == data.kind.value
        and earlier.text == data.text
        and earlier.corrects == data.corrects
        and (data.classification is None or earlier.classification == data.classification.value)
        and (occurred is None or earlier.occurred_at == occurred)
    )
    if not same:
        raise Conflict(
            N_(
                "This request was logged already, as entry #{number}, with other content. "
                "To log this too, send it as a new request."
            ),
            field="request_key",
            number=earlier.number,
        )


def _get_entry(session: Session, *, incident_id: int | None, number: int) -> LogEntry | None:
    return session.exec(
        select(LogEntry).where(LogEntry.incident_id == incident_id, LogEntry.number == number)
    ).first()


def _present_all(
    session: Session, viewer: Viewer, entries: list[LogEntry], *, lang: str
) -> list[LogEntryPublic]:
    """Present entries with the numbers of the corrections the viewer may see."""
    corrected_by: dict[int, list[int]] = {}
    numbers = [e.number for e in entries if may_read(viewer, e.classification)]
    if numbers:
        rows = session.exec(
            select(LogEntry.corrects, LogEntry.number)
            .where(
                LogEntry.incident_id == entries[0].incident_id,
                col(LogEntry.corrects).in_(numbers),
                col(LogEntry.classification).in_(readable_classifications(viewer)),
            )
            .order_by(col(LogEntry.number))
        ).all()
        for target, number in rows:
            if target is not None:
                corrected_by.setdefault(target, []).append(number)
    return [present_entry(e, viewer, corrected_by.get(e.number), lang=lang) for e in entries]


def list_entries(
    session: Session,
    *,
    viewer: Viewer,
    incident: Incident,
    lang: str,
    after: int = 0,
    limit: int = 100,
    kind: EntryKind | None = None,
) -> LogPage:
    """Entries after a number, oldest first: the API's paging and the export's source."""
    limit = max(1, min(limit, PAGE_MAX))
    query = select(LogEntry).where(LogEntry.incident_id == incident.id, LogEntry.number > after)
    if kind is not None:
        # A kind filter must not reveal the kind of a withheld entry.
        query = query.where(
            LogEntry.kind == kind,
            col(LogEntry.classification).in_(readable_classifications(viewer)),
        )
    rows = list(session.exec(query.order_by(col(LogEntry.number)).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return LogPage(
        items=_present_all(session, viewer, rows, lang=lang),
        next_after=rows[-1].number if more and rows else None,
    )


def list_recent(
    session: Session,
    *,
    viewer: Viewer,
    incident: Incident,
    lang: str,
    before: int | None = None,
    limit: int = 100,
    kind: EntryKind | None = None,
) -> list[LogEntryPublic]:
    """Newest entries first, for the incident page."""
    limit = max(1, min(limit, PAGE_MAX))
    query = select(LogEntry).where(LogEntry.incident_id == incident.id)
    if before is not None:
        query = query.where(LogEntry.number < before)
    if kind is not None:
        query = query.where(
            LogEntry.kind == kind,
            col(LogEntry.classification).in_(readable_classifications(viewer)),
        )
    rows = list(session.exec(query.order_by(col(LogEntry.number).desc()).limit(limit)).all())
    return _present_all(session, viewer, rows, lang=lang)


def get_entry(
    session: Session, *, viewer: Viewer, incident: Incident, number: int, lang: str
) -> LogEntryPublic:
    entry = _get_entry(session, incident_id=incident.id, number=number)
    if entry is None:
        raise NotFound("Entry #{number} does not exist in this log.", number=number)
    return _present_all(session, viewer, [entry], lang=lang)[0]


def export_lines(
    session: Session, *, viewer: Viewer, incident: Incident, lang: str
) -> Iterator[str]:
    """The log as JSON Lines, withheld where the viewer lacks clearance, then its signed
    checkpoints (`{"checkpoint": {…}}` lines); verifiable offline."""
    batch: list[LogEntry] = []
    for entry in iter_entries(session, incident.id):
        batch.append(entry)
        if len(batch) == 500:
            yield from _export_batch(session, viewer, batch, lang)
            batch = []
    yield from _export_batch(session, viewer, batch, lang)
    yield from checkpoints.export_lines(session, incident=incident)


def _export_batch(
    session: Session, viewer: Viewer, batch: list[LogEntry], lang: str
) -> Iterator[str]:
    if batch:
        for item in _present_all(session, viewer, batch, lang=lang):
            yield json.dumps(item.model_dump(mode="json"), ensure_ascii=False) + "\n"
