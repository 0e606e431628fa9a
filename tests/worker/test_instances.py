"""Two instances on one PostgreSQL database, each a worker with its own Database and event
loop: every queued item runs exactly once, a job scheduled once runs once, and a periodic job
runs once per period across both, never on both at once."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest

from app.actions import transaction
from app.db import Database, utcnow
from app.worker import Periodic, Queued, Work, enqueue
from tests.worker.conftest import Effects, Instance, Runs, instance_of

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]
postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def delivering(runs: Runs, effects: Effects, *, takes: float) -> Queued:
    def deliver(work: Work) -> None:
        started = time.time()
        try:
            time.sleep(takes)
            with transaction(work.db) as tx:
                session = tx.session
                effects.record(session, work.payload["key"], instance_of(work.db))
                work.finish(session)
                session.commit()
        finally:
            runs.add(work, started)  # every run, also one whose claim turned out lost

    return Queued("test.deliver", run=deliver)


def wait_for(runs: Runs, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(runs.keys()) < count:
        assert time.monotonic() < deadline, f"{len(runs.keys())} of {count} runs"
        time.sleep(0.02)


@postgres_only
def test_two_instances_run_each_queued_item_exactly_once(
    database_url: str, effects: Effects, runs: Runs
) -> None:
    job = delivering(runs, effects, takes=0.05)
    keys = [f"sms {n}" for n in range(40)]
    with Instance(database_url, [job], name="a") as a, Instance(database_url, [job], name="b"):
        with transaction(a.db) as tx:
            session = tx.session
            for key in keys:
                enqueue(session, job, payload={"key": key})
            session.commit()
        wait_for(runs, len(keys))
        time.sleep(0.5)  # anything run twice would show now
    rows = effects.rows()
    assert sorted(key for key, _ in rows) == sorted(keys)  # each once
    assert sorted(runs.keys()) == sorted(keys)  # and nothing ran twice, even uncommitted
    assert {instance for _, instance in rows} == {"a", "b"}  # both took their share


@postgres_only
def test_a_job_scheduled_once_runs_once_on_two_instances(
    database_url: str, effects: Effects, runs: Runs
) -> None:
    """Both instances learn of the items from the database (neither wrote them) and reach for
    them at the same moment, their run time."""
    job = delivering(runs, effects, takes=0.0)
    keys = [f"reminder {n}" for n in range(20)]
    run_at = utcnow() + timedelta(seconds=1)
    with Instance(database_url, [job], name="a"), Instance(database_url, [job], name="b"):
        outside = Database(database_url)
        with transaction(outside) as tx:
            session = tx.session
            for key in keys:
                enqueue(session, job, payload={"key": key}, run_at=run_at)
            session.commit()
        outside.dispose()
        wait_for(runs, len(keys))
        time.sleep(0.5)
    assert sorted(key for key, _ in effects.rows()) == sorted(keys)
    assert sorted(runs.keys()) == sorted(keys)
    assert min(run.started for run in runs.all) >= run_at.timestamp()


@postgres_only
def test_a_periodic_job_runs_once_per_period_across_two_instances(database_url: str) -> None:
    """Each run lasts longer than a period: the advisory lock keeps the other instance from
    starting it meanwhile, and the recorded start keeps every period to one run."""
    every, takes = 0.2, 0.3
    lock = threading.Lock()
    spans: list[tuple[float, float, str]] = []

    def tick(db: Database) -> None:
        started = time.time()
        time.sleep(takes)
        with lock:
            spans.append((started, time.time(), instance_of(db)))

    job = Periodic("test.tick", every=every, run=tick)
    with Instance(database_url, [job], name="a"), Instance(database_url, [job], name="b"):
        time.sleep(3.0)
    spans.sort()
    periods = [int(started // every) for started, _, _ in spans]
    assert len(periods) == len(set(periods)), periods  # never twice in one period
    for (_, ended, _), (started, _, _) in itertools.pairwise(spans):
        assert started >= ended, spans  # never on both instances at once
    assert len(spans) >= 4, spans  # about 7: a run of 0.3 s in every other period of 0.2 s
