"""The hub: one room per watched incident, one database read per wake-up, bounded queues.

A wake-up (an `EventsWritten` from the bus, app/bus.py) marks a room dirty; the room's pump
reads every event past its watermark once, renders each event once per audience key and
offers the result to every subscriber (see `live/subscriber.py` for how a message reaches its
socket). A wake-up from a commit in this instance brings the events as written: when they
follow on from the room's watermark and need nothing more to render (a plain new entry), they
are fanned out at once, without the read. Offering never waits, so one stalled client slows
no one else.

The incident list has one more room, the lobby: every wake-up of any incident (a new one too)
marks it dirty, and its pump reads the whole list once and offers it when its version grew.

A wake-up can be lost (a dropped NOTIFY, a write by another process on SQLite), so every
RECHECK_SECONDS each room compares its watermark with the incident's newest seq: `recheck`, a
local job that the worker runs (`Hub.jobs`, app/worker/).

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

from app.bus import Bus, EventsWritten, Written
from app.db import Database
from app.incidents.listing import IncidentList, list_version, load_incident_list
from app.live.events import LiveEvent, Registry, head_seq
from app.live.subscriber import Item, Subscriber
from app.worker.jobs import LocalPeriodic

log = logging.getLogger("samvirke.live")

RECHECK_SECONDS = 5.0
STOP_WAIT_SECONDS = 10.0

T = TypeVar("T")


@dataclass(eq=False)
class Room:
    incident_id: int
    watermark: int
    subscribers: set[Subscriber[LiveEvent[Any]]] = field(default_factory=set)
    dirty: bool = False
    pump: asyncio.Task[None] | None = None


@dataclass(eq=False)
class Lobby:
    """The incident list's watchers; `version` is the newest list version offered to them."""

    version: int = 0
    subscribers: set[Subscriber[IncidentList]] = field(default_factory=set)
    dirty: bool = False
    pump: asyncio.Task[None] | None = None


class Hub:
    def __init__(self, db: Database, bus: Bus, events: Registry) -> None:
        self.db = db
        self.bus = bus
        self.events = events
        self.rooms: dict[int, Room] = {}
        self.lobby = Lobby()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reads: set[asyncio.Task[Any]] = set()
        # Run by the worker (app/main.py), so that the hub keeps no timer of its own.
        self.jobs = (LocalPeriodic("live.recheck", every=RECHECK_SECONDS, run=self.recheck),)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.bus.subscribe(EventsWritten, self.written)

    async def stop(self) -> None:
        self.bus.unsubscribe(EventsWritten, self.written)
        pumps = [self.lobby.pump, *(r.pump for r in self.rooms.values())]
        tasks = [t for t in pumps if t]
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

    def run_soon(self, fn: Callable[..., Any], *args: Any, delay: float = 0.0) -> None:
        """Run a blocking call in a worker thread without waiting for it, from any thread,
        after `delay` seconds (then tracked like a read, so `stop()` waits for it; one still
        waiting for its delay at the stop is dropped). For a write that must not be part of
        a request: that request may hold the write lock it needs until it has ended."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.call_later, delay, self._spawn, fn, args)

    def _spawn(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._reads.add(task)
        task.add_done_callback(self._read_done)

    def _read_done(self, task: asyncio.Task[Any]) -> None:
        self._reads.discard(task)
        if not task.cancelled():
            task.exception()  # mark it retrieved: a read nobody awaits any more must not warn

    # --- subscriptions --------------------------------------------------------------------

    async def subscribe(self, incident_id: int, subscriber: Subscriber[LiveEvent[Any]]) -> None:
        room = self.rooms.get(incident_id)
        if room is None:
            seq = await self.read(self._head, incident_id)
            room = self.rooms.get(incident_id)  # another socket may have made it meanwhile
            if room is None:
                room = self.rooms[incident_id] = Room(incident_id=incident_id, watermark=seq or 0)
        room.subscribers.add(subscriber)

    def unsubscribe(self, incident_id: int, subscriber: Subscriber[LiveEvent[Any]]) -> None:
        room = self.rooms.get(incident_id)
        if room is None:
            return
        room.subscribers.discard(subscriber)
        if not room.subscribers and room.pump is None:
            del self.rooms[incident_id]

    async def subscribe_list(self, subscriber: Subscriber[IncidentList]) -> None:
        if not self.lobby.subscribers:  # nobody watched: the version it knew may be stale
            self.lobby.version = await self.read(self.list_version)
        self.lobby.subscribers.add(subscriber)

    def unsubscribe_list(self, subscriber: Subscriber[IncidentList]) -> None:
        self.lobby.subscribers.discard(subscriber)

    # --- wake-ups -------------------------------------------------------------------------

    def written(self, notice: EventsWritten) -> None:
        """Events were committed: the incident's room and the incident list may have news."""
        self.wake_list()
        self._wake_room(notice.incident_id, notice.seq, notice.written)

    def _wake_room(
        self, incident_id: int, seq: int | None, written: tuple[Written, ...] = ()
    ) -> None:
        room = self.rooms.get(incident_id)
        if room is None or (seq is not None and seq <= room.watermark):
            return
        if room.pump is None and written and written[0].seq == room.watermark + 1:
            events = self.events.as_written(incident_id, written)
            if events is not None and _fan_out_all(room, events):
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
                        _fan_out(room.subscribers, event.seq, event)
                        room.watermark = event.seq
        except Exception:  # a failed read must not kill live delivery; the re-check retries
            log.exception("live pump failed for incident %s", room.incident_id)
        finally:
            room.pump = None
            if not room.subscribers:
                self.rooms.pop(room.incident_id, None)

    def wake_list(self) -> None:
        lobby = self.lobby
        if not lobby.subscribers:
            return
        lobby.dirty = True
        if lobby.pump is None:
            lobby.pump = asyncio.create_task(self._pump_list())

    async def _pump_list(self) -> None:
        lobby = self.lobby
        try:
            while lobby.dirty:
                lobby.dirty = False
                listing = await self.read(self.load_list)
                if listing.version > lobby.version:
                    _fan_out(lobby.subscribers, listing.version, listing)
                    lobby.version = listing.version
        except Exception:  # as for rooms: the re-check tries again
            log.exception("live pump failed for the incident list")
        finally:
            lobby.pump = None

    async def recheck(self) -> None:
        """Covers a lost wake-up: wake each room (and the lobby) that the database is ahead of."""
        for incident_id in list(self.rooms):
            try:
                seq = await self.read(self._head, incident_id)
            except Exception:
                log.exception("live re-check failed")
                continue
            if seq is not None:
                self._wake_room(incident_id, seq)
        if self.lobby.subscribers and await self.read(self.list_version) > self.lobby.version:
            self.wake_list()  # (a failed read is the worker's to log; the next re-check retries)

    # --- database reads (run in a thread) -------------------------------------------------

    def _head(self, incident_id: int) -> int | None:
        with self.db.read_session() as session:
            return head_seq(session, incident_id)

    def _load(self, incident_id: int, after: int) -> list[LiveEvent[Any]]:
        with self.db.read_session() as session:
            return self.events.load(session, incident_id, after=after)

    def load(self, incident_id: int, after: int) -> list[LiveEvent[Any]]:
        """A socket's own replay read (blocking; call it through `read`)."""
        return self._load(incident_id, after)

    def list_version(self) -> int:
        """The incident list's version now (blocking; call it through `read`)."""
        with self.db.read_session() as session:
            return list_version(session)

    def load_list(self) -> IncidentList:
        """The incident list as the lobby and a list socket's catch-up read it (blocking)."""
        with self.db.read_session() as session:
            return load_incident_list(session)


def _fan_out_all(room: Room, events: list[LiveEvent[Any]]) -> bool:
    """Fan out events in order, moving the watermark; False if one failed (the pump then
    reads from there)."""
    try:
        for event in events:
            _fan_out(room.subscribers, event.seq, event)
            room.watermark = event.seq
    except Exception:
        log.exception("live fan-out failed for incident %s", room.incident_id)
        return False
    return True


def _fan_out(subscribers: set[Subscriber[Item]], seq: int, item: Item) -> None:
    """Render once per key, offer to all: the text is shared, the queues are not."""
    rendered: dict[Hashable, str] = {}
    for subscriber in list(subscribers):
        message = rendered.get(subscriber.key)
        if message is None:
            message = rendered[subscriber.key] = subscriber.render(item, subscriber.viewer)
        subscriber.offer(seq, message)
