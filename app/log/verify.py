"""Verifying a log, and sealing the head of one that no checkpoint covers yet.

`verify_chain` recomputes every digest and hash, checks numbering, links and the incident's
head, that the events and counters agree with the entries (app/log/integrity.py), and the
signed checkpoints (app/log/checkpoints.py).

`seal_unsigned` is for logs written before checkpoints existed (a database upgraded from
before migration 0004): they report an unsigned tail, or a closed log whose last checkpoint
is not its last entry, until the next append signs them, and a closed log never gets one.
Signing them at start-up would bless whatever was done to them before; here an operator asks
for it, and a log is signed only if it verifies in every other respect. What that proves:
docs/security/checkpoints.md, "Logs from before checkpoints".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.actions import transaction
from app.db import Database
from app.incidents.models import Incident
from app.log import chain, checkpoints, integrity
from app.log.models import ChainHead, ChainProblem, LogCheckpoint, LogEntry, VerifyResult
from app.log.signing import Signer


def iter_entries(
    session: Session, incident_id: int | None, batch: int = 1000
) -> Iterator[LogEntry]:
    """The log's entries in order, read a batch at a time."""
    after = 0
    while True:
        rows = session.exec(
            select(LogEntry)
            .where(LogEntry.incident_id == incident_id, LogEntry.number > after)
            .order_by(col(LogEntry.number))
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].number


def verify_chain(session: Session, *, incident: Incident, signer: Signer | None) -> VerifyResult:
    """The whole verification, as `samvirke verify` and `GET …/log/verify` report it; the
    checkpoints are checked with `signer`'s key (the `Database`'s; None: there is none here)."""
    assert incident.id is not None
    problems, head, checked = _chain(session, incident)
    problems.extend(integrity.cross_check(session, incident=incident))
    problems.extend(checkpoints.check(session, incident=incident, signer=signer))
    return VerifyResult(
        ok=not problems, incident_id=incident.id, checked=checked, head=head, problems=problems
    )


@dataclass(frozen=True, slots=True)
class Sealed:
    """What `seal_unsigned` did: signed the head (`checkpoint`), found nothing to sign (both
    None: empty, or signed already), or refused because the log is broken (`problems`)."""

    checkpoint: LogCheckpoint | None = None
    problems: tuple[ChainProblem, ...] | None = None


def seal_unsigned(db: Database, *, incident_id: int) -> Sealed:
    """Sign the head of a log that verifies but whose head no checkpoint covers: an action.

    The incident row is locked (`FOR UPDATE` on PostgreSQL; the write transaction holds
    SQLite's single write lock), so no append slips in between the check and the signature.
    Closed incidents are sealed too: that is what they lack.
    """
    with transaction(db) as tx:
        session = tx.session
        incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
        if incident is None or incident.checkpoint_number == incident.log_count:
            return Sealed()
        problems, _, _ = _chain(session, incident)
        problems.extend(integrity.cross_check(session, incident=incident))
        signed, _ = checkpoints.check_signatures(session, incident=incident, signer=tx.signer)
        problems.extend(signed)
        if problems:
            return Sealed(problems=tuple(problems))
        return Sealed(
            checkpoint=checkpoints.sign_head(session, incident=incident, signer=tx.signer)
        )


def _chain(
    session: Session, incident: Incident
) -> tuple[list[ChainProblem], ChainHead | None, int]:
    """The chain's own problems, its last entry and how many entries were read."""
    problems: list[ChainProblem] = []
    prev_hash, expected, last = chain.GENESIS, 1, None
    for entry in iter_entries(session, incident.id):
        if entry.number != expected:
            problems.append(
                ChainProblem(number=entry.number, problem=f"expected number {expected}")
            )
        if chain.stored_digest(entry) != entry.content_digest:
            problems.append(
                ChainProblem(number=entry.number, problem="content does not match its digest")
            )
        if entry.prev_hash != prev_hash:
            problems.append(
                ChainProblem(number=entry.number, problem="does not link to the previous entry")
            )
        if chain.stored_hash(entry) != entry.hash:
            problems.append(
                ChainProblem(number=entry.number, problem="hash does not match the entry")
            )
        prev_hash, expected, last = entry.hash, entry.number + 1, entry
    head = ChainHead(number=last.number, hash=last.hash) if last else None
    if (head.number if head else 0) != incident.log_count or (
        (head.hash if head else None) != incident.log_head_hash
    ):
        problems.append(
            ChainProblem(
                number=incident.log_count, problem="log does not end where the incident says"
            )
        )
    return problems, head, expected - 1
