"""What a domain declares to the worker, in its `Domain.jobs` (app/domain.py).

* `Queued`: a kind of queued work. A service enqueues an item of it in its own transaction
  (`app.worker.enqueue`); a worker thread runs it once it is due, on one instance, and
  retries a failure after a growing wait until its attempts are spent.
* `Periodic`: a job that runs once per period across every instance (periods are aligned to
  the Unix epoch: `every=3600` runs once in each clock hour, UTC), in a worker thread.
* `LocalPeriodic`: a job that runs on *every* instance, `every` seconds after its previous
  run ended, on the event loop: for state that lives in one process (the live hub's rooms).
  It does its own blocking work in threads (`Hub.read`).

docs/worker.md says what each guarantees and how to write one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.worker.models import NAME_MAX

if TYPE_CHECKING:
    from app.db import Database
    from app.worker.queue import Work

MAX_BACKOFF = 3600.0  # seconds: the longest wait between two attempts of an item


def _check(name: str, *numbers: float) -> None:
    if not 0 < len(name) <= NAME_MAX:
        raise ValueError(f"a job's name has 1 to {NAME_MAX} characters: {name!r}")
    if min(numbers) <= 0:
        raise ValueError(f"job {name!r}: its periods, attempts and waits must be positive")


@dataclass(frozen=True, slots=True)
class Queued:
    """Items enqueued as `name` are run by `run(work)` in a worker thread, at least once.

    A run that raises is tried again after `backoff` seconds, doubling with each attempt (at
    most MAX_BACKOFF), until `attempts` runs have failed; the item is then kept as failed with
    the last error. A claimed item belongs to its run for `lease` seconds: if its instance
    dies, another takes the item over after that, so a run must end well within its lease.
    """

    name: str
    run: Callable[[Work], None]
    attempts: int = 5
    backoff: float = 10.0
    lease: float = 300.0

    def __post_init__(self) -> None:
        _check(self.name, self.attempts, self.backoff, self.lease)

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1, 2, …)."""
        return float(min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF))


@dataclass(frozen=True, slots=True)
class Periodic:
    """`run(db)` once in every period of `every` seconds, on one instance, in a worker thread.

    A run that raises is recorded (`job_run.error`) and logged; the next period runs it again.
    """

    name: str
    every: float
    run: Callable[[Database], None]

    def __post_init__(self) -> None:
        _check(self.name, self.every)


@dataclass(frozen=True, slots=True)
class LocalPeriodic:
    """`await run()` on every instance, `every` seconds after the previous run ended."""

    name: str
    every: float
    run: Callable[[], Awaitable[None]]

    def __post_init__(self) -> None:
        _check(self.name, self.every)


Job = Queued | Periodic | LocalPeriodic
