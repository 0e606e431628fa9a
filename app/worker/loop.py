"""The worker: one loop per instance that runs queued items, periodic jobs and local timers.

It wakes when work may be due: told by the bus after a commit that queued work (`WorkQueued`,
from this process, another instance's NOTIFY or the CLI's datagram on SQLite),
at the time the earliest known item falls due or its retry's wait is over, at each periodic
job's next period, when a local job's timer runs out, and after POLL_SECONDS at the latest
while it has queued jobs (for items enqueued by another instance or process).

Blocking work (claims, jobs, their records) runs in the worker's own THREADS threads, never in
the thread pool that the live push reads with, so a job that hangs (a mail server that does
not answer) delays no socket; the loop never claims more items than it has free threads.
Local jobs run on the event loop itself.

`stop()` ends the loop and the local jobs, then waits up to STOP_WAIT_SECONDS for the threads
still running: work cut short there keeps its claim and is run again after its lease.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime
from typing import Any, TypeVar

from app.bus import Bus, WorkQueued
from app.db import Database, utcnow
from app.worker import queue, schedule
from app.worker.jobs import Job, LocalPeriodic, Periodic, Queued

log = logging.getLogger("samvirke.worker")

POLL_SECONDS = 5.0
THREADS = 4
STOP_WAIT_SECONDS = 10.0
# Items were due but locked by another instance's claim: look again this soon.
BUSY_RETRY_SECONDS = 0.05
# A periodic job is looked at this long after its period began, so that it is surely begun.
PERIOD_SLACK_SECONDS = 0.005

T = TypeVar("T")


class Worker:
    """The background side of one instance: `start()` it in the app's lifespan, `stop()` it."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        jobs: Iterable[Job],
        *,
        threads: int = THREADS,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.db, self.bus, self.threads, self.poll = db, bus, threads, poll
        self.queued: dict[str, Queued] = {}
        self.periodic: list[Periodic] = []
        self.local: list[LocalPeriodic] = []
        names: set[str] = set()
        for job in jobs:
            if job.name in names:
                raise ValueError(f"two jobs are named {job.name!r}")
            names.add(job.name)
            if isinstance(job, Queued):
                self.queued[job.name] = job
            elif isinstance(job, Periodic):
                self.periodic.append(job)
            else:
                self.local.append(job)
        self._due: dict[str, float] = {}  # loop time at which each timed job is next due
        self._busy: set[str] = set()  # timed jobs running now: a job never overlaps itself
        # Loop times at which to look at the queue next: as the last claim's read found it,
        # and as news since that read began asks (a commit notice: now; a retry: its time).
        self._queue_at = 0.0
        self._news_at = math.inf
        self._claiming = False
        self._reserved = 0  # threads promised to claims, items and periodic jobs
        self._local_tasks: set[asyncio.Task[None]] = set()
        self._thread_tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._main: asyncio.Task[None] | None = None
        self._poked = asyncio.Event()

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="samvirke-worker")
        self._poked = asyncio.Event()  # of this loop (an app may be started again, in another)
        self._queue_at, self._news_at = 0.0, math.inf
        now = loop.time()
        for local in self.local:
            self._due[local.name] = now + local.every
        for periodic in self.periodic:
            self._due[periodic.name] = now  # this period may not have had its run yet
        self.bus.subscribe(WorkQueued, self._queued)
        self._main = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self.bus.unsubscribe(WorkQueued, self._queued)
        if self._main is not None:
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
        for task in self._local_tasks:
            task.cancel()
        await asyncio.gather(*self._local_tasks, return_exceptions=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_WAIT_SECONDS
        while self._thread_tasks and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._thread_tasks), timeout=left)  # a claim may add runs
        if self._thread_tasks:
            log.warning("worker: %d jobs still running at shutdown", len(self._thread_tasks))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _queued(self, _notice: WorkQueued) -> None:
        self.wake()

    def wake(self) -> None:
        self._news_at = 0.0
        self._poked.set()

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._poked.clear()
            self._start_due(loop.time())
            wake_at = min(self._waiting_for(), default=math.inf)
            with suppress(TimeoutError):
                async with asyncio.timeout_at(None if wake_at == math.inf else wake_at):
                    await self._poked.wait()

    def _free(self) -> int:
        return self.threads - self._reserved

    def _start_due(self, now: float) -> None:
        for local in self.local:
            if local.name not in self._busy and self._due[local.name] <= now:
                self._busy.add(local.name)
                self._spawn(self._run_local(local), self._local_tasks)
        for periodic in self.periodic:
            due = periodic.name not in self._busy and self._due[periodic.name] <= now
            if due and self._free() > 0:
                self._busy.add(periodic.name)
                self._reserved += 1
                self._spawn(self._run_periodic(periodic), self._thread_tasks)
        if self.queued and not self._claiming and self._look_at() <= now and self._free() > 0:
            limit = self._free()
            self._claiming, self._reserved = True, self._reserved + limit
            self._news_at = math.inf  # the claim's read sees everything committed until now
            self._spawn(self._claim(limit), self._thread_tasks)

    def _waiting_for(self) -> Iterable[float]:
        """The loop times of what this loop starts next (a freed thread pokes it anyway)."""
        for local in self.local:
            if local.name not in self._busy:
                yield self._due[local.name]
        if self._free() > 0:
            for periodic in self.periodic:
                if periodic.name not in self._busy:
                    yield self._due[periodic.name]
            if self.queued and not self._claiming:
                yield self._look_at()

    def _look_at(self) -> float:
        return min(self._queue_at, self._news_at)

    def _poke(self) -> None:
        self._poked.set()

    def _spawn(self, work: Coroutine[Any, Any, None], into: set[asyncio.Task[None]]) -> None:
        task = asyncio.create_task(work)
        into.add(task)
        task.add_done_callback(into.discard)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _after(self, moment: datetime | None, *, longest: float, shortest: float = 0.0) -> float:
        """The loop time of a wall-clock `moment` (None: never), kept `shortest` to `longest`
        seconds from now."""
        wait = longest if moment is None else (moment - utcnow()).total_seconds()
        return asyncio.get_running_loop().time() + min(max(wait, shortest), longest)

    # --- the work -------------------------------------------------------------------------

    async def _run_local(self, job: LocalPeriodic) -> None:
        try:
            await job.run()
        except Exception:
            log.exception("local job %s failed", job.name)
        finally:
            self._due[job.name] = asyncio.get_running_loop().time() + job.every
            self._busy.discard(job.name)
            self._poke()

    async def _run_periodic(self, job: Periodic) -> None:
        failed = False
        try:
            await self._in_thread(schedule.run_periodic, self.db, job)
        except Exception:
            log.exception("periodic job %s: its run could not be checked or recorded", job.name)
            failed = True
        finally:
            until = schedule.until_next_period(utcnow(), job.every) + PERIOD_SLACK_SECONDS
            if failed:
                until = min(until, self.poll)  # the database may be back before the next period
            self._due[job.name] = asyncio.get_running_loop().time() + until
            self._busy.discard(job.name)
            self._reserved -= 1
            self._poke()

    async def _claim(self, limit: int) -> None:
        claimed: list[queue.Work] = []
        next_due = None
        try:
            claimed, next_due = await self._in_thread(queue.claim, self.db, self.queued, limit)
        except Exception:
            log.exception("worker: could not claim work")
        finally:
            self._claiming = False
            self._reserved -= limit - len(claimed)  # each item keeps the thread it was given
            if claimed:  # more may be due
                self._queue_at = 0.0
            else:
                self._queue_at = self._after(
                    next_due, shortest=BUSY_RETRY_SECONDS, longest=self.poll
                )
            for work in claimed:
                self._spawn(self._run_item(self.queued[work.job], work), self._thread_tasks)
            self._poke()

    async def _run_item(self, job: Queued, work: queue.Work) -> None:
        retry_at = None
        try:
            retry_at = await self._in_thread(queue.perform, job, work)
        except Exception:
            log.exception("job %s: how work item %s ended could not be recorded", job.name, work.id)
        finally:
            self._reserved -= 1
            if retry_at is not None:
                self._news_at = min(self._news_at, self._after(retry_at, longest=self.poll))
            self._poke()
