"""Periodic jobs: each runs once per period across every instance.

Two things make that hold. While a run is going on, its instance holds a PostgreSQL advisory
lock named after the job (a session lock on a connection of its own, so the server lets it go
if the instance dies): no two instances run one job at once, however long a run takes. And
under that lock the instance checks `job_run`, the recorded start of the job's latest run: the
job runs only if that start lies before the current period, and the new start is committed
before the job begins. So a period has at most one run, also across restarts; a run that
fails is recorded and not repeated until the next period. On SQLite there is one process, the
worker never runs a job twice at once, and the check goes through the single writer.

Periods are aligned to the Unix epoch, so every instance agrees on them as far as their clocks
agree: `every=60` is each clock minute.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import text

from app.actions import transaction
from app.db import Database, utcnow
from app.worker.jobs import Periodic
from app.worker.models import JobRun, error_text

log = logging.getLogger("samvirke.worker")


def period_start(now: datetime, every: float) -> datetime:
    """The start of the period that `now` lies in."""
    return datetime.fromtimestamp(now.timestamp() // every * every, UTC)


def until_next_period(now: datetime, every: float) -> float:
    """Seconds from `now` to the start of the next period."""
    return every - now.timestamp() % every


def run_periodic(db: Database, job: Periodic) -> None:
    """Run `job` here if this period has not had its run yet."""
    with _exclusive(db, job.name) as ours:
        if not ours or not _claim_period(db, job):
            return
        error = None
        try:
            job.run(db)
        except Exception as exc:  # recorded; the next period runs it again
            log.exception("periodic job %s failed", job.name)
            error = error_text(exc)
        with transaction(db) as tx:
            session = tx.session
            run = session.get(JobRun, job.name)
            if run is not None:
                run.finished_at, run.error = utcnow(), error


def _claim_period(db: Database, job: Periodic) -> bool:
    """Record the start of this period's run, unless it had one."""
    now = utcnow()
    with transaction(db) as tx:
        session = tx.session
        run = session.get(JobRun, job.name)
        if run is not None and run.started_at >= period_start(now, job.every):
            return False
        if run is None:
            session.add(JobRun(name=job.name, started_at=now))
        else:
            run.started_at, run.finished_at, run.error = now, None, None
    return True


def lock_key(name: str) -> int:
    """The job's advisory lock: 64 bits of a hash of its name (a bigint key)."""
    digest = hashlib.sha256(f"samvirke.job:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _exclusive(db: Database, name: str) -> Iterator[bool]:
    """Whether this instance may run the job now: on PostgreSQL it holds the job's advisory
    lock until the block ends. On SQLite always (one process; see the module's docstring)."""
    if db.is_sqlite:
        yield True
        return
    key = {"key": lock_key(name)}
    with db.engine.connect() as connection:
        ours = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar_one()
        connection.commit()  # the lock is the session's: no transaction stays open meanwhile
        if not ours:
            yield False
            return
        try:
            yield True
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                connection.commit()
            except Exception:  # noqa: BLE001 - closing the connection lets the lock go as well
                log.warning("periodic job %s: unlock failed; dropping the connection", name)
                connection.invalidate()
