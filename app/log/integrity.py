"""Cross-checks of a log against its events and its incident's counters (part of verify).

The hash chain alone cannot tell a log from the same log with its tail cut off: the shorter
chain is just as valid. Three records of the log's length are kept apart, so cutting the tail
means changing all three consistently:

* the entries themselves (`log_entry`),
* one `log.appended` event per entry, in the gap-free event sequence, naming its number and
  (since migration 0003) its hash,
* the incident's counters: `log_count`, `log_head_hash` and `event_seq`.

The database refuses changes to the first two and any step back of the third (migration
0003); this check catches whoever got past that, as a table owner can.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from app.events.models import Event
from app.events.service import LOG_APPENDED
from app.incidents.models import Incident
from app.log.models import ChainProblem, LogEntry

_BATCH = 5000


def cross_check(session: Session, *, incident: Incident) -> list[ChainProblem]:
    """Problems where the entries, the events and the incident's counters disagree."""
    hashes = dict(
        session.exec(
            select(LogEntry.number, LogEntry.hash).where(LogEntry.incident_id == incident.id)
        ).all()
    )
    problems: list[ChainProblem] = []
    named: set[int] = set()
    last_seq = 0
    for seq, type_, data in _events(session, incident.id):
        if seq != last_seq + 1:
            problems.append(
                ChainProblem(
                    number=len(named), problem=f"events {last_seq + 1}…{seq - 1} are missing"
                )
            )
        last_seq = seq
        if type_ != LOG_APPENDED:
            continue
        number = int(data.get("number", 0))
        recorded = data.get("hash")
        if number in named:
            problems.append(ChainProblem(number=number, problem=f"event {seq} logs it again"))
        named.add(number)
        if number not in hashes:
            problems.append(
                ChainProblem(number=number, problem=f"missing, though event {seq} logged it")
            )
        elif recorded is not None and recorded != hashes[number]:
            problems.append(
                ChainProblem(number=number, problem=f"hash differs from the one event {seq} logged")
            )
    for number in sorted(hashes.keys() - named):
        problems.append(ChainProblem(number=number, problem="no event logged this entry"))
    if last_seq != incident.event_seq:
        problems.append(
            ChainProblem(
                number=incident.log_count,
                problem=f"events end at {last_seq}, the incident says {incident.event_seq}",
            )
        )
    return problems


def _events(session: Session, incident_id: int | None) -> Iterator[tuple[int, str, dict[str, Any]]]:
    after = 0
    while True:
        rows = session.exec(
            select(Event.seq, Event.type, Event.data)
            .where(Event.incident_id == incident_id, Event.seq > after)
            .order_by(col(Event.seq))
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for seq, type_, data in rows:
            yield seq, type_, data if isinstance(data, dict) else {}
        after = rows[-1][0]
