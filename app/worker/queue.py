"""Queued work: enqueued in the caller's transaction, claimed, run, then ended or retried.

`enqueue` adds a row in the service's own transaction, so the item exists only if that
transaction commits. The rest runs in the worker's threads (app/worker/loop.py):

* `claim` first asks, in a plain read, when the next item falls due, and only takes the
  write lock (the single writer on SQLite) when one is due. It then takes due items with
  `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL (on SQLite the write transaction alone
  serialises claimers), marks them running until their lease ends and counts the attempt,
  all in one short transaction, so each item is claimed by exactly one run at a time.
* `perform` runs the job, then deletes the item (`complete`) or records the failure and
  schedules the next attempt (`fail`). A job that writes to the database can end its item in
  its own transaction (`Work.finish`): its writes and the end of the item then commit
  together, exactly once. Otherwise delivery is at least once: a run whose instance dies
  after the job's effect but before the end is recorded runs again when its lease is over.

Every statement that ends a claim matches the attempt number it was claimed with, so a run
that outlived its lease (and was taken over) can neither end nor fail the item again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import Session, and_, col, select

from app.actions import transaction
from app.bus import WorkQueued, publish_on_commit
from app.db import Database, utcnow
from app.worker.jobs import Queued
from app.worker.models import WorkItem, WorkState, error_text

log = logging.getLogger("samvirke.worker")


class ClaimLost(Exception):
    """The item was taken over by another run (its claim ran out) or has ended already."""


def enqueue(
    session: Session,
    job: Queued,
    *,
    payload: dict[str, Any] | None = None,
    run_at: datetime | None = None,
) -> WorkItem:
    """Add an item of `job` in the caller's transaction, to run at `run_at` (now by default).

    It exists only if that transaction commits; the caller commits (the service's one commit).
    `payload` must be JSON: ids to read afresh when the job runs, not objects.
    """
    item = WorkItem(job=job.name, payload=payload or {}, run_at=run_at or utcnow())
    session.add(item)
    session.flush()
    publish_on_commit(session, WorkQueued())
    return item


class Work:
    """One claimed item, as its job's `run` gets it."""

    __slots__ = ("attempt", "db", "finished", "id", "job", "payload")

    def __init__(
        self, db: Database, *, id: int, job: str, payload: dict[str, Any], attempt: int
    ) -> None:
        self.db, self.id, self.job, self.payload, self.attempt = db, id, job, payload, attempt
        self.finished = False

    def finish(self, session: Session) -> None:
        """End the item in `session`'s transaction: the job's writes in it and the end of the
        item then commit together or not at all. Raises ClaimLost if another run has taken the
        item over meanwhile; the transaction must then roll back (let the error propagate)."""
        if session.execute(_end(self)).rowcount != 1:  # type: ignore[attr-defined]
            raise ClaimLost(f"work item {self.id}: claim {self.attempt} is no longer current")
        self.finished = True


def _end(work: Work) -> Any:
    return delete(WorkItem).where(_claimed_by(work))


def _claimed_by(work: Work) -> Any:
    return and_(
        col(WorkItem.id) == work.id,
        col(WorkItem.attempts) == work.attempt,
        col(WorkItem.state) == WorkState.running,
    )


def _due(now: datetime) -> Any:
    return or_(
        and_(col(WorkItem.state) == WorkState.queued, col(WorkItem.run_at) <= now),
        and_(col(WorkItem.state) == WorkState.running, col(WorkItem.locked_until) <= now),
    )


def next_due(db: Database, names: list[str]) -> datetime | None:
    """When the first item of these jobs falls due (or its lease ends); None if there is none."""
    known = col(WorkItem.job).in_(names)
    queued = select(func.min(WorkItem.run_at)).where(known, col(WorkItem.state) == WorkState.queued)
    leased = select(func.min(WorkItem.locked_until)).where(
        known, col(WorkItem.state) == WorkState.running
    )
    with db.read_session(snapshot=False) as session:
        times = session.execute(select(queued.scalar_subquery(), leased.scalar_subquery())).one()
    found = [t for t in times if t is not None]
    return min(found) if found else None


def claim(
    db: Database, jobs: Mapping[str, Queued], limit: int
) -> tuple[list[Work], datetime | None]:
    """Claim up to `limit` due items of these jobs. Returns them, and when nothing was due,
    when the next item falls due (None: no item at all)."""
    now = utcnow()
    due_at = next_due(db, list(jobs))
    if due_at is None or due_at > now:
        return [], due_at
    claimed: list[Work] = []
    with transaction(db) as tx:
        session = tx.session
        items = session.exec(
            select(WorkItem)
            .where(col(WorkItem.job).in_(list(jobs)), _due(now))
            .order_by(col(WorkItem.run_at), col(WorkItem.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for item in items:
            job = jobs[item.job]
            if item.state == WorkState.running and item.attempts >= job.attempts:
                _give_up(item, now, "its last attempt did not end within its lease")
                continue
            item.state, item.attempts = WorkState.running, item.attempts + 1
            item.locked_until = now + timedelta(seconds=job.lease)
            assert item.id is not None
            work = Work(db, id=item.id, job=item.job, payload=item.payload, attempt=item.attempts)
            claimed.append(work)
    return claimed, (None if claimed else now)


def perform(job: Queued, work: Work) -> datetime | None:
    """Run a claimed item and record how it ended; returns when it runs again, if it does."""
    try:
        job.run(work)
    except Exception as exc:  # any failure of a job is retried, then recorded
        log.warning(
            "job %s: work item %s failed (attempt %s)",
            job.name,
            work.id,
            work.attempt,
            exc_info=True,
        )
        return fail(job, work, error_text(exc))
    if not work.finished:
        complete(work)
    return None


def complete(work: Work) -> None:
    with transaction(work.db) as tx:
        session = tx.session
        session.execute(_end(work))


def fail(job: Queued, work: Work, error: str) -> datetime | None:
    """Schedule the next attempt after the backoff, or, with none left, keep it as failed."""
    now = utcnow()
    with transaction(work.db) as tx:
        session = tx.session
        item = session.exec(select(WorkItem).where(_claimed_by(work)).with_for_update()).first()
        if item is None:  # ended by the job itself, or taken over: nothing is ours to record
            return None
        item.last_error = error
        retry_at = None
        if item.attempts >= job.attempts:
            _give_up(item, now, error)
        else:
            retry_at = now + timedelta(seconds=job.retry_delay(item.attempts))
            item.state, item.run_at, item.locked_until = WorkState.queued, retry_at, None
    return retry_at


def _give_up(item: WorkItem, now: datetime, error: str) -> None:
    log.error(
        "job %s: work item %s failed for good after %s attempts: %s",
        item.job,
        item.id,
        item.attempts,
        error,
    )
    item.state, item.locked_until, item.failed_at = WorkState.failed, None, now
    item.last_error = error
