"""The hub: one room per watched incident, one database read per wake-up, bounded queues.

A wake-up (from the bus) marks a room dirty; the room's pump reads every event past its
watermark once, renders each event once per audience key and offers the result to every
subscriber. Offering never waits: a subscriber whose queue is full is marked `behind` and its
socket catches up from the database on its own, so one stalled client slows no one else.

Every database read runs in a worker thread through `Hub.read`, which keeps track of it even
after its caller is cancelled: `stop()` waits for those stragglers, because a connection handed
back to the pool after `Database.dispose()` is never closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.accounts.viewer import Viewer
from app.db import Database
from app.live.events import LiveEvent, head_seq, load_events

log = logging.getLogger("samvirke.live")

QUEUE_MAX = 256
RECHECK_SECONDS = 5.0
STOP_WAIT_SECONDS = 10.0

T = TypeVar("T")
Renderer = Callable[[LiveEvent, Viewer], str]


@dataclass(eq=False)
class Subscriber:
    """One socket's view of a room: what it is sent, and how it is rendered."""

    viewer: Viewer
    key: Hashable
    render: Renderer
    queue: asyncio.Queue[tuple[int, str]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_MAX)
    )
    behind: bool = False

    def offer(self, seq: int, message: str) -> None:
        if self.behind:
            return
        try:
            self.queue.put_nowait((seq, message))
        except asyncio.QueueFull:
            self.behind = True  # the socket drops its queue and replays from the database


@dataclass(eq=False)
class Room:
    incident_id: int
    watermark: int
    subscribers: set[Subscriber] = field(default_factory=set)
    dirty: bool = False
    pump: asyncio.Task[None] | None = None


class Hub:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.rooms: dict[int, Room] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._recheck: asyncio.Task[None] | None = None
        self._reads: set[asyncio.Task[Any]] = set()

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.db.add_wake_listener(self.wake_threadsafe)
        self._recheck = asyncio.create_task(self._recheck_forever())

    async def stop(self) -> None:
        self.db.remove_wake_listener(self.wake_threadsafe)
        tasks = [t for t in [self._recheck, *(r.pump for r in self.rooms.values())] if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._reads:  # reads whose callers were cancelled still hold a connection
            await asyncio.wait(set(self._reads), timeout=STOP_WAIT_SECONDS)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking database read in a worker thread, tracked until the thread is done."""
        task: asyncio.Task[T] = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._reads.add(task)
        task.add_done_callback(self._read_done)
        return await asyncio.shield(task)  # a cancelled caller leaves the thread to finish

    def _read_done(self, task: asyncio.Task[Any]) -> None:
        self._reads.discard(task)
        if not task.cancelled():
            task.exception()  # mark it retrieved: a read nobody awaits any more must not warn

    # --- subscriptions --------------------------------------------------------------------

    async def subscribe(self, incident_id: int, subscriber: Subscriber) -> None:
        room = self.rooms.get(incident_id)
        if room is None:
            seq = await self.read(self._head, incident_id)
            room = self.rooms.get(incident_id)  # another socket may have made it meanwhile
            if room is None:
                room = self.rooms[incident_id] = Room(incident_id=incident_id, watermark=seq or 0)
        room.subscribers.add(subscriber)

    def unsubscribe(self, incident_id: int, subscriber: Subscriber) -> None:
        room = self.rooms.get(incident_id)
        if room is None:
            return
        room.subscribers.discard(subscriber)
        if not room.subscribers and room.pump is None:
            del self.rooms[incident_id]

    # --- wake-ups -------------------------------------------------------------------------

    def wake_threadsafe(self, incident_id: int, seq: int) -> None:
        """Called after a commit, from whichever thread committed."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.wake, incident_id, seq)

    def wake(self, incident_id: int, seq: int | None = None) -> None:
        room = self.rooms.get(incident_id)
        if room is None or (seq is not None and seq <= room.watermark):
            return
        room.dirty = True
        if room.pump is None:
            room.pump = asyncio.create_task(self._pump(room))

    async def _pump(self, room: Room) -> None:
        try:
            while room.dirty:
                room.dirty = False
                while True:
                    events = await self.read(self._load, room.incident_id, room.watermark)
                    if not events:
                        break
                    for event in events:
                        self._fan_out(room, event)
                        room.watermark = event.seq
        except Exception:  # a failed read must not kill live delivery; the re-check retries
            log.exception("live pump failed for incident %s", room.incident_id)
        finally:
            room.pump = None
            if not room.subscribers:
                self.rooms.pop(room.incident_id, None)

    def _fan_out(self, room: Room, event: LiveEvent) -> None:
        rendered: dict[Hashable, str] = {}
        for subscriber in list(room.subscribers):
            message = rendered.get(subscriber.key)
            if message is None:
                message = rendered[subscriber.key] = subscriber.render(event, subscriber.viewer)
            subscriber.offer(event.seq, message)

    async def _recheck_forever(self) -> None:
        """Covers a lost wake-up (a dropped NOTIFY, a write from another process)."""
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            for incident_id in list(self.rooms):
                try:
                    seq = await self.read(self._head, incident_id)
                except Exception:
                    log.exception("live re-check failed")
                    continue
                if seq is not None:
                    self.wake(incident_id, seq)

    # --- database reads (run in a thread) -------------------------------------------------

    def _head(self, incident_id: int) -> int | None:
        with self.db.read_session() as session:
            return head_seq(session, incident_id)

    def _load(self, incident_id: int, after: int) -> list[LiveEvent]:
        with self.db.read_session() as session:
            return load_events(session, incident_id, after=after)

    def load(self, incident_id: int, after: int) -> list[LiveEvent]:
        """A socket's own replay read (blocking; call it through `read`)."""
        return self._load(incident_id, after)
