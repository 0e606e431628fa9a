"""Periodic jobs on one instance, on SQLite and PostgreSQL: one run per period, recorded, and
not repeated by an instance that starts again within the same period."""

from __future__ import annotations

import threading
import time

import pytest

from app.db import Database, utcnow
from app.worker import Periodic
from app.worker.models import JobRun
from app.worker.schedule import until_next_period
from tests.worker.conftest import Instance, instance_of, wait_until

pytestmark = pytest.mark.timeout(60)

HOUR = 3600.0


class Starts:
    """When the test job started, and on which instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.all: list[tuple[float, str]] = []

    def job(self, name: str, every: float, *, fails: bool = False) -> Periodic:
        def run(db: Database) -> None:
            with self._lock:
                self.all.append((time.time(), instance_of(db)))
            if fails:
                raise RuntimeError("the weather service did not answer")

        return Periodic(name, every=every, run=run)

    def periods(self, every: float) -> list[int]:
        with self._lock:
            return [int(started // every) for started, _ in self.all]


def job_run(db: Database, name: str) -> JobRun | None:
    with db.read_session() as session:
        return session.get(JobRun, name)


def _not_near_the_end_of_the_hour() -> None:
    """The restart test needs one period around it; wait for the next hour if it ends soon."""
    left = until_next_period(utcnow(), HOUR)
    if left < 10:
        time.sleep(left + 0.1)


def test_a_periodic_job_runs_once_per_period(database_url: str) -> None:
    every = 0.3
    starts = Starts()
    with Instance(database_url, [starts.job("test.tick", every)], name="a"):
        time.sleep(2.0)
    periods = starts.periods(every)
    assert len(periods) == len(set(periods)), periods  # never twice in one period
    assert len(periods) >= 4, periods  # about 7 periods began: one run each


def test_an_instance_that_starts_again_within_the_period_does_not_run_it_again(
    database_url: str,
) -> None:
    _not_near_the_end_of_the_hour()
    starts = Starts()
    job = starts.job("test.hourly", HOUR)
    with Instance(database_url, [job], name="first") as first:
        wait_until(lambda: len(starts.all) == 1)
        wait_until(
            lambda: (r := job_run(first.db, job.name)) is not None and r.finished_at is not None
        )
    with Instance(database_url, [job], name="second") as second:
        time.sleep(0.5)
        run = job_run(second.db, job.name)
    assert [instance for _, instance in starts.all] == ["first"]
    assert run is not None and run.error is None
    assert run.finished_at is not None and run.started_at <= run.finished_at


def test_a_failing_periodic_job_is_recorded_with_its_error(database_url: str) -> None:
    _not_near_the_end_of_the_hour()
    starts = Starts()
    job = starts.job("test.weather", HOUR, fails=True)
    with Instance(database_url, [job], name="a") as a:
        wait_until(lambda: (r := job_run(a.db, job.name)) is not None and r.finished_at is not None)
        time.sleep(0.3)
        run = job_run(a.db, job.name)
    assert len(starts.all) == 1  # not again before the next period
    assert run is not None
    assert run.error == "RuntimeError: the weather service did not answer"
