"""Worker fixtures: instances (a worker with its own Database and event loop, in a thread of
its own, as another process would have), runs recorded by the test jobs, and a table in which
the jobs commit their effects, so that "exactly once" is counted in the database itself."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.actions import transaction
from app.bus import Bus
from app.db import Database
from app.worker import Job, Work, Worker

TIMEOUT = 10.0
_names: dict[int, str] = {}  # id(Database) -> the instance it belongs to


def instance_of(db: Database) -> str:
    return _names.get(id(db), "outside")


class Instance:
    """One instance of the app's background side: a Worker on its own Database and loop."""

    def __init__(
        self, url: str, jobs: Sequence[Job], *, name: str, poll: float = 0.05, threads: int = 2
    ) -> None:
        self.db, self.jobs, self.name = Database(url), jobs, name
        self.poll, self.threads = poll, threads
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name=f"instance-{name}", daemon=True)
        _names[id(self.db)] = name

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._started.wait(TIMEOUT), f"instance {self.name} did not start"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(TIMEOUT + 5)
        assert not self._thread.is_alive(), f"instance {self.name} did not stop"
        self.db.dispose()
        _names.pop(id(self.db), None)

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        bus = Bus(self.db)
        worker = Worker(self.db, bus, self.jobs, threads=self.threads, poll=self.poll)
        await bus.start()
        await worker.start()
        self._started.set()
        await self._stop.wait()
        await worker.stop()
        await bus.stop()


@dataclass(frozen=True)
class Run:
    key: str
    instance: str
    attempt: int
    started: float  # time.time()
    ended: float


class Runs:
    """What the test jobs did, from whichever thread ran them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.all: list[Run] = []

    def add(self, work: Work, started: float) -> None:
        run = Run(
            str(work.payload.get("key")), instance_of(work.db), work.attempt, started, time.time()
        )
        with self._lock:
            self.all.append(run)

    def keys(self) -> list[str]:
        with self._lock:
            return [r.key for r in self.all]


class Effects:
    """A table of the test's own: one row per committed effect of a job."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, session: Session, key: str, instance: str) -> None:
        session.execute(
            text("INSERT INTO worker_effect (key, instance) VALUES (:key, :instance)"),
            {"key": key, "instance": instance},
        )

    def rows(self) -> list[tuple[str, str]]:
        with self.db.read_session() as session:
            found = session.execute(text("SELECT key, instance FROM worker_effect"))
            return sorted((str(k), str(i)) for k, i in found)


@pytest.fixture
def effects(database_url: str) -> Iterator[Effects]:
    db = Database(database_url)
    with transaction(db) as tx:
        session = tx.session
        session.execute(text("DROP TABLE IF EXISTS worker_effect"))
        session.execute(
            text("CREATE TABLE worker_effect (key VARCHAR(40) NOT NULL, instance VARCHAR(40))")
        )
        session.commit()
    yield Effects(db)
    with transaction(db) as tx:
        session = tx.session
        session.execute(text("DROP TABLE worker_effect"))
        session.commit()
    db.dispose()


@pytest.fixture
def runs() -> Runs:
    return Runs()


def wait_until(done: Callable[[], bool], timeout: float = TIMEOUT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or done}")
        time.sleep(0.02)
