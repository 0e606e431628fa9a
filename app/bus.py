"""The bus: typed notices of committed changes, from the services to the live push and the worker.

Three kinds of notice: `EventsWritten` (an incident has events up to `seq`), `AccessChanged`
(users whose rights, sessions or tokens changed: the guard re-checks their sockets) and
`WorkQueued` (background work was queued: the workers look for what is due). Between
processes a notice carries ids and seqs only, never the data: the database is the history, and
a listener reads it. Within the process that wrote them, `EventsWritten` also carries the
events as written (at most WRITTEN_MAX per incident and commit), so that process's push need
not read back what it was just told.

Publishing (Zulip's `send_event_on_commit`): a service calls `publish_on_commit(session,
notice)` inside its transaction. The notice is kept with the transaction, merged with its others
(one per incident, one for access), handed out only after the commit and dropped on a rollback,
so listeners hear of committed changes only. Access changes go first: an instance that hears
both holds the sockets whose rights ended before it fans out what was written after them.

After the commit, a notice reaches:
- in this process, the subscribers of the database's running `Bus` (`subscribe(kind, callback)`),
  called on that bus's event loop;
- on PostgreSQL, every instance's `Bus`: a NOTIFY on CHANNEL, sent inside the transaction (so
  only a commit delivers it) and LISTENed to by each;
- on a SQLite file, from a process without a running bus (the CLI), the serving process: one
  datagram per notice to the Unix socket it binds beside the database file (`<file>.bus`, mode
  0600). If nothing listens, nothing happens.
Both wires carry `encode(notice)`, read back by `decode`. A notice lost on the way (a dropped
LISTEN connection, a server not running) is covered by the hub's periodic re-check and the
heartbeat's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import weakref
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import event, make_url, text
from sqlmodel import Session

from app.db import Database

log = logging.getLogger("samvirke.bus")

CHANNEL = "samvirke_bus"
WRITTEN_MAX = 64  # events per incident and commit handed to this process's push as written
IDS_PER_PAYLOAD = 500  # user ids in one payload: well under NOTIFY's 8,000 bytes
SOCKET_SUFFIX = ".bus"  # the SQLite database file's name plus this: the serving process's ear
LISTEN_WAIT = 10.0  # seconds `start` waits for LISTEN before it serves anyway (and keeps trying)


@dataclass(frozen=True, slots=True)
class Written:
    """An event as its writer recorded it. `subject` is the row it is about, as written (the
    new LogEntry of a log.appended), or None."""

    seq: int
    type: str
    data: dict[str, Any]
    subject: object | None


@dataclass(frozen=True, slots=True)
class EventsWritten:
    """The incident's events up to `seq` are committed. `written`: those of the commit as their
    writer recorded them, oldest first; empty when they are not known here (another process, or
    more than WRITTEN_MAX), and the listener reads them from the database."""

    incident_id: int
    seq: int
    written: tuple[Written, ...] = ()

    def then(self, later: EventsWritten) -> EventsWritten:
        """This notice and a later one of the same incident and transaction, as one."""
        known = self.written and len(self.written) + len(later.written) <= WRITTEN_MAX
        return EventsWritten(
            self.incident_id, later.seq, self.written + later.written if known else ()
        )


@dataclass(frozen=True, slots=True)
class AccessChanged:
    """These users' rights, sessions or tokens changed: their open sockets must re-check."""

    user_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class WorkQueued:
    """Background work was queued (app/worker/queue.py): the workers look for what is due."""


Notice = EventsWritten | AccessChanged | WorkQueued
N = TypeVar("N", EventsWritten, AccessChanged, WorkQueued)


# --- the wire: one encoding for NOTIFY and the datagram socket ------------------------------


def encode(notice: Notice) -> list[str]:
    """The payloads that say `notice` to another process (ids and seqs only; one for events,
    one per IDS_PER_PAYLOAD users)."""
    if isinstance(notice, EventsWritten):
        return [f"events:{notice.incident_id}:{notice.seq}"]
    if isinstance(notice, WorkQueued):
        return ["work"]
    ids = sorted(notice.user_ids)
    return [
        "access:" + ",".join(map(str, ids[i : i + IDS_PER_PAYLOAD]))
        for i in range(0, len(ids), IDS_PER_PAYLOAD)
    ]


def decode(payload: str) -> Notice | None:
    """The notice a payload from `encode` says, or None if it says none."""
    kind, _, rest = payload.partition(":")
    try:
        if kind == "events":
            incident_id, seq = rest.split(":")
            return EventsWritten(int(incident_id), int(seq))
        if kind == "access":
            return AccessChanged(frozenset(int(u) for u in rest.split(",")))
        if kind == "work" and not rest:
            return WorkQueued()
    except ValueError:
        pass
    return None


# --- publishing, with the transaction --------------------------------------------------------

_PENDING = "samvirke.bus"  # this module's own key in `Session.info`


@dataclass
class _Pending:
    """One transaction's notices, merged: its access changes, per incident its events, and
    whether it queued work."""

    access: set[int] = field(default_factory=set)
    events: dict[int, EventsWritten] = field(default_factory=dict)
    work: bool = False

    def add(self, notice: Notice) -> None:
        if isinstance(notice, WorkQueued):
            self.work = True
            return
        if isinstance(notice, AccessChanged):
            self.access |= notice.user_ids
            return
        earlier = self.events.get(notice.incident_id)
        self.events[notice.incident_id] = notice if earlier is None else earlier.then(notice)

    def notices(self) -> list[Notice]:
        """Access changes first: rights before news."""
        access: list[Notice] = [AccessChanged(frozenset(self.access))] if self.access else []
        work: list[Notice] = [WorkQueued()] if self.work else []
        return access + list(self.events.values()) + work


def publish_on_commit(session: Session, notice: Notice) -> None:
    """Publish `notice` when the session's transaction commits; forget it if it rolls back."""
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending()
    pending.add(notice)


_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


@event.listens_for(Session, "before_commit")
def _notify_in_transaction(session: Session) -> None:
    """PostgreSQL's NOTIFY is transactional: other instances hear of committed changes only."""
    pending: _Pending | None = session.info.get(_PENDING)
    database = session.info.get("database")
    if pending is None or not isinstance(database, Database) or database.is_sqlite:
        return
    for notice in pending.notices():
        for payload in encode(notice):
            session.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})


@event.listens_for(Session, "after_commit")
def _hand_out_after_commit(session: Session) -> None:
    pending: _Pending | None = session.info.pop(_PENDING, None)
    database = session.info.get("database")
    if pending is None or not isinstance(database, Database):
        return
    bus = _running.get(database)
    if bus is not None:
        bus.deliver_threadsafe(pending.notices())
    elif database.is_sqlite:
        _send_to_server(database.url, pending.notices())


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_PENDING, None)


# --- this process's ear ----------------------------------------------------------------------

# The running bus of each database in this process: where its commits are handed out.
_running: weakref.WeakKeyDictionary[Database, Bus] = weakref.WeakKeyDictionary()


class Bus:
    """One database's notices, for this process's subscribers, on the event loop that started it.

    Started (by the app's lifespan), it receives this process's commits, and LISTENs on
    PostgreSQL or binds the datagram socket beside a SQLite file for those of other processes.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._subscribers: dict[type[Any], list[Callable[[Any], None]]] = {
            EventsWritten: [],
            AccessChanged: [],
            WorkQueued: [],
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._datagrams: asyncio.DatagramTransport | None = None
        self._socket_path: Path | None = None
        self.listening = asyncio.Event()

    def subscribe(self, kind: type[N], callback: Callable[[N], None]) -> None:
        """Call `callback` with every notice of `kind` from now on, on the bus's event loop."""
        self._subscribers[kind].append(callback)

    def unsubscribe(self, kind: type[N], callback: Callable[[N], None]) -> None:
        if callback in self._subscribers[kind]:
            self._subscribers[kind].remove(callback)

    def deliver(self, notices: list[Notice]) -> None:
        """Hand notices to their subscribers, in order (on the bus's event loop)."""
        for notice in notices:
            for callback in list(self._subscribers[type(notice)]):
                try:
                    callback(notice)
                except Exception:  # one failing subscriber must not silence the others
                    log.exception("bus: a subscriber failed on %r", notice)

    def deliver_threadsafe(self, notices: list[Notice]) -> None:
        """`deliver`, from whichever thread committed."""
        if self._loop is not None and not self._loop.is_closed():
            with suppress(RuntimeError):  # the loop closed meanwhile: the server has stopped
                self._loop.call_soon_threadsafe(self.deliver, notices)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        _running[self.db] = self
        if self.db.is_sqlite:
            await self._bind()
            return
        self._listener = asyncio.create_task(self._listen_forever())
        try:
            await asyncio.wait_for(self.listening.wait(), timeout=LISTEN_WAIT)
        except TimeoutError:
            log.warning("bus: not listening yet; will keep trying")

    async def stop(self) -> None:
        if _running.get(self.db) is self:
            del _running[self.db]
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._datagrams is not None:
            self._datagrams.close()
        if self._socket_path is not None:
            self._socket_path.unlink(missing_ok=True)

    def hear(self, payload: str) -> None:
        """A payload from another process (NOTIFY or datagram)."""
        notice = decode(payload)
        if notice is None:
            log.warning("bus: ignored a malformed payload %r", payload)
            return
        self.deliver([notice])

    async def _listen_forever(self) -> None:
        """PostgreSQL: LISTEN, and reconnect with backoff whenever the connection is lost."""
        url = self.db.url.replace("postgresql+psycopg://", "postgresql://", 1)
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        self.hear(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: wait, reconnect, re-check
                self.listening.clear()
                log.warning("bus: connection lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _bind(self) -> None:
        """SQLite file: bind `<file>.bus`, private to the owner, replacing a stale one."""
        path = socket_path(self.db.url)
        if path is None:
            return
        if _someone_listens(path):  # another server on the same file: leave it its ear
            log.warning(_DEAF, path, "another process listens there")
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            path.unlink(missing_ok=True)  # left by a server that did not stop cleanly
            sock.bind(str(path))
            os.chmod(path, 0o600)  # bind made it as the umask allows; the folder is private
        except OSError as exc:  # e.g. a path longer than a Unix socket's ~107 bytes
            sock.close()
            log.warning(_DEAF, path, exc)
            return
        assert self._loop is not None
        self._datagrams, _ = await self._loop.create_datagram_endpoint(
            lambda: _Datagrams(self), sock=sock
        )
        self._socket_path = path
        self.listening.set()


_DEAF = (
    "bus: not listening at %s (%s): changes that other processes make reach open sockets at "
    "the next re-check"
)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.bus.hear(data.decode(errors="replace"))


@lru_cache(maxsize=64)
def socket_path(url: str) -> Path | None:
    """Where the serving process listens for a SQLite file's notices; None if it does not (an
    in-memory database, PostgreSQL, a platform without Unix sockets)."""
    database = make_url(url).database
    if (
        not url.startswith("sqlite")
        or not database
        or database.startswith((":memory:", "file:"))
        or not hasattr(socket, "AF_UNIX")
    ):
        return None
    return Path(os.path.realpath(database + SOCKET_SUFFIX))


def _someone_listens(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:  # no such file, or nobody bound to it (stale): free to take
            return False
    return True


def _send_to_server(url: str, notices: list[Notice]) -> None:
    """Best effort, after a commit in a process without a running bus: tell the serving one."""
    path = socket_path(url)
    if path is None:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for notice in notices:
            for payload in encode(notice):
                try:
                    sock.sendto(payload.encode(), str(path))
                except OSError:  # nobody listens, or its queue is full: the re-checks cover it
                    return
