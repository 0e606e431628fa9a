"""Queued work on one instance, on SQLite and PostgreSQL, through the facility's public API:
enqueued in a service's transaction, run once, retried with backoff, recorded when it fails."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import select

from app.actions import transaction
from app.db import utcnow
from app.worker import ClaimLost, Queued, Work, enqueue
from app.worker.models import WorkItem, WorkState
from tests.worker.conftest import Effects, Instance, Runs, instance_of, wait_until

pytestmark = pytest.mark.timeout(60)


def delivering(runs: Runs, effects: Effects) -> Queued:
    """A job whose effect commits together with the end of its item: exactly once."""

    def deliver(work: Work) -> None:
        started = time.time()
        with transaction(work.db) as tx:
            session = tx.session
            effects.record(session, work.payload["key"], instance_of(work.db))
            work.finish(session)
            session.commit()
        runs.add(work, started)

    return Queued("test.deliver", run=deliver)


def items(instance: Instance) -> list[WorkItem]:
    with instance.db.read_session() as session:
        return list(session.exec(select(WorkItem)).all())


def test_a_queued_job_runs_once_and_its_effect_is_committed(
    database_url: str, effects: Effects, runs: Runs
) -> None:
    job = delivering(runs, effects)
    with Instance(database_url, [job], name="a", poll=30) as a:
        with transaction(a.db) as tx:
            session = tx.session
            enqueue(session, job, payload={"key": "alert"})
            session.commit()
        # Long before the 30 s poll: the commit itself woke the worker.
        wait_until(lambda: effects.rows() == [("alert", "a")], timeout=5)
        time.sleep(0.3)
        assert items(a) == []  # the table holds what is still to do
    assert runs.keys() == ["alert"]
    assert effects.rows() == [("alert", "a")]


def test_a_job_enqueued_in_a_transaction_that_rolls_back_never_runs(
    database_url: str, effects: Effects, runs: Runs
) -> None:
    job = delivering(runs, effects)
    with Instance(database_url, [job], name="a", poll=0.05) as a:
        with transaction(a.db) as tx:
            session = tx.session
            enqueue(session, job, payload={"key": "rolled back"})
            session.rollback()
        with pytest.raises(RuntimeError), transaction(a.db) as tx:
            session = tx.session
            enqueue(session, job, payload={"key": "service failed"})
            raise RuntimeError("the service refused after enqueueing")
        with transaction(a.db) as tx:
            session = tx.session
            enqueue(session, job, payload={"key": "committed"})
            session.commit()
        wait_until(lambda: effects.rows() == [("committed", "a")])
        time.sleep(0.5)  # many polls
        assert items(a) == []
    assert runs.keys() == ["committed"]


def test_a_job_runs_at_its_time(database_url: str, effects: Effects, runs: Runs) -> None:
    job = delivering(runs, effects)
    with Instance(database_url, [job], name="a", poll=30) as a:
        run_at = utcnow() + timedelta(seconds=0.6)
        with transaction(a.db) as tx:
            session = tx.session
            enqueue(session, job, payload={"key": "reminder"}, run_at=run_at)
            session.commit()
        wait_until(lambda: runs.keys() == ["reminder"], timeout=5)
    started = runs.all[0].started
    assert run_at.timestamp() <= started < run_at.timestamp() + 3  # its timer, not the poll


def test_a_failing_job_is_retried_with_backoff_then_recorded_as_failed(
    database_url: str, runs: Runs
) -> None:
    def send(work: Work) -> None:
        runs.add(work, time.time())
        raise RuntimeError("the mail server said no")

    job = Queued("test.send", run=send, attempts=3, backoff=0.2)
    with Instance(database_url, [job], name="a", poll=30) as a:
        with transaction(a.db) as tx:
            session = tx.session
            item_id = enqueue(session, job, payload={"key": "mail"}).id
            session.commit()
        wait_until(lambda: [i.state for i in items(a)] == [WorkState.failed], timeout=10)
        time.sleep(0.5)  # no attempt after the last
        with a.db.read_session() as session:
            item = session.get(WorkItem, item_id)
    assert [r.attempt for r in runs.all] == [1, 2, 3]
    first, second, third = (r.started for r in runs.all)
    assert 0.2 <= second - first < 3  # waits of 0.2 s, then 0.4 s (doubling), each on its
    assert 0.4 <= third - second < 3  # own timer: far from the 30 s poll
    assert item is not None
    assert item.attempts == 3
    assert item.last_error == "RuntimeError: the mail server said no"
    assert item.failed_at is not None and item.locked_until is None


def test_a_job_that_failed_runs_again_and_its_item_ends(
    database_url: str, effects: Effects, runs: Runs
) -> None:
    def flaky(work: Work) -> None:
        runs.add(work, time.time())
        if work.attempt == 1:
            raise ConnectionError("timed out")

    job = Queued("test.flaky", run=flaky, backoff=0.1)
    with Instance(database_url, [job], name="a", poll=30) as a:
        with transaction(a.db) as tx:
            session = tx.session
            enqueue(session, job, payload={"key": "webhook"})
            session.commit()
        wait_until(lambda: len(runs.all) == 2 and items(a) == [])
    assert [r.attempt for r in runs.all] == [1, 2]


def test_a_run_that_outlives_its_lease_is_taken_over_and_its_effect_commits_once(
    database_url: str, effects: Effects, runs: Runs
) -> None:
    """The first run hangs past its lease; a second run takes the item over and ends it. When
    the first finally tries to end it, its claim is no longer current: its writes roll back."""
    lost: list[int] = []

    def slow(work: Work) -> None:
        started = time.time()
        if work.attempt == 1:
            time.sleep(1.5)
        try:
            with transaction(work.db) as tx:
                session = tx.session
                effects.record(session, work.payload["key"], f"attempt {work.attempt}")
                work.finish(session)
                session.commit()
        except ClaimLost:
            lost.append(work.attempt)
            raise
        finally:
            runs.add(work, started)

    job = Queued("test.slow", run=slow, lease=0.5)
    with Instance(database_url, [job], name="a", poll=0.05) as a:
        with transaction(a.db) as tx:
            session = tx.session
            enqueue(session, job, payload={"key": "minutes"})
            session.commit()
        wait_until(lambda: len(runs.all) == 2, timeout=10)
        time.sleep(0.3)
        assert items(a) == []
    assert effects.rows() == [("minutes", "attempt 2")]
    assert lost == [1]
