"""The guard: every open socket's credentials, by user, so access taken away ends at once.

A service that changes a user's rights, sessions or tokens notes an account change in its
transaction (accounts/access.py); after the commit the guard hears the user's id as an
`AccessChanged` on the bus (app/bus.py): from this process, another instance (PostgreSQL) or
the CLI (SQLite). It then at once *holds* each of that user's sockets — nothing more is sent
to it, what the hub offers waits in its queue — and asks the socket to re-check its
credential. One read, shared by every re-check asked for together,
says what the credential stands for now: gone (signed out, revoked, expired, deactivated) →
close 4401; another viewer (clearance or role changed) → close 4403, and the queue, rendered
for the old rights, is dropped unsent; the same → released, the queue goes out.

The heartbeat's periodic re-check stays, for changes no bus carried (a lost NOTIFY, a CLI run
while the server was down or a write straight to the database), and a socket closes itself
when its credential expires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session

from app.accounts import service as accounts
from app.accounts import tokens
from app.accounts.access import Credential
from app.accounts.viewer import Viewer
from app.bus import AccessChanged, Bus
from app.db import Database, utcnow
from app.live.hub import Hub
from app.live.subscriber import Subscriber

log = logging.getLogger("samvirke.live")

CLOSE_UNAUTHORIZED = 4401  # the credential ended: signed out, revoked, expired, deactivated
CLOSE_FORBIDDEN = 4403  # rights changed (or, before the handshake, a foreign Origin)
RECHECK_WINDOW = 0.25  # seconds that heartbeat re-checks wait to share one read

Lookup = Callable[[Session, str], Credential | None]
LOOKUPS: dict[str, Lookup] = {
    "token": tokens.token_credential,
    "session": accounts.session_credential,
}
Unknown = Literal[True]  # the read failed: nothing is known, the socket stays open


@dataclass(frozen=True, slots=True)
class Admitted:
    """A socket's credential as checked at its handshake: `generation` is the guard's count of
    account changes heard before that check, so one heard since is not missed."""

    kind: str
    raw: str
    credential: Credential
    generation: int


@dataclass(eq=False)
class Watch:
    """One open socket's credential (`kind` "token" or "session") and whom it was opened as."""

    kind: str
    raw: str
    viewer: Viewer
    expires_at: datetime | None
    subscriber: Subscriber[Any]
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class CredentialRechecks:
    """Credential reads, coalesced: one read for every credential asked for together.

    A thousand open sockets re-checked one by one cost a thousand read transactions per
    heartbeat period, each in a worker thread competing with the fan-out for the GIL. Here
    every check asked for within RECHECK_WINDOW shares one session; an urgent one (an account
    change) ends the wait at once, taking the others along. If the read fails the answer is
    `True` (unknown): a database hiccup must not log everyone out; the next beat asks again.
    """

    def __init__(self, hub: Hub, db: Database, lookup: Lookup) -> None:
        self.hub, self.db, self.lookup = hub, db, lookup
        self.waiting: dict[str, list[asyncio.Future[Viewer | None | Unknown]]] = {}
        self.flush: asyncio.Task[None] | None = None
        self.urgent = asyncio.Event()

    async def viewer(self, raw: str, *, urgent: bool = False) -> Viewer | None | Unknown:
        """Whom `raw` stands for now: a viewer, None if it is no longer valid, or True."""
        future: asyncio.Future[Viewer | None | Unknown] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(raw, []).append(future)
        if urgent:
            self.urgent.set()
        if self.flush is None:
            self.flush = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        with suppress(TimeoutError):
            async with asyncio.timeout(RECHECK_WINDOW):
                await self.urgent.wait()
        batch, self.waiting, self.flush = self.waiting, {}, None
        self.urgent = asyncio.Event()

        def read() -> dict[str, Viewer | None]:
            with self.db.read_session() as session:
                found = {raw: self.lookup(session, raw) for raw in batch}
            return {raw: Viewer.of(c.user) if c else None for raw, c in found.items()}

        answers: dict[str, Viewer | None | Unknown]
        try:
            answers = dict(await self.hub.read(read))
        except Exception:
            log.exception("live: credential re-check failed; sockets stay open until the next")
            answers = dict.fromkeys(batch, True)
        for raw, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(answers[raw])


class Guard:
    """The open sockets of each user; told of account changes, it re-checks theirs at once."""

    def __init__(self, db: Database, hub: Hub, bus: Bus) -> None:
        self.db, self.hub, self.bus = db, hub, bus
        self.watches: dict[int, set[Watch]] = {}
        self.generation = 0  # account changes heard so far
        self.rechecks: dict[str, CredentialRechecks] = {}

    async def start(self) -> None:
        self.rechecks = {k: CredentialRechecks(self.hub, self.db, f) for k, f in LOOKUPS.items()}
        self.bus.subscribe(AccessChanged, self.changed)

    async def stop(self) -> None:
        self.bus.unsubscribe(AccessChanged, self.changed)

    async def admit(self, kind: str, raw: str) -> Admitted | None:
        """What a bearer token (`kind` "token") or a session cookie ("session") stands for."""
        generation = self.generation

        def check() -> Credential | None:
            with self.db.read_session() as session:
                return LOOKUPS[kind](session, raw)

        found = await self.hub.read(check)
        return None if found is None else Admitted(kind, raw, found, generation)

    def watch(self, admitted: Admitted, subscriber: Subscriber[Any]) -> Watch:
        """Follow an accepted socket's credential until `remove`."""
        found = admitted.credential
        watch = Watch(admitted.kind, admitted.raw, subscriber.viewer, found.expires_at, subscriber)
        self.watches.setdefault(watch.viewer.user_id, set()).add(watch)
        if self.generation != admitted.generation:  # a change since the handshake's check
            subscriber.hold()
            watch.changed.set()
        return watch

    def remove(self, watch: Watch) -> None:
        mine = self.watches.get(watch.viewer.user_id)
        if mine is not None:
            mine.discard(watch)
            if not mine:
                del self.watches[watch.viewer.user_id]

    def changed(self, notice: AccessChanged) -> None:
        """These users' access changed: hold their sockets and have each re-check."""
        self.generation += 1
        for user_id in notice.user_ids:
            for watch in self.watches.get(user_id, ()):
                watch.subscriber.hold()
                watch.changed.set()

    async def verdict(self, watch: Watch, *, urgent: bool) -> int | None:
        """The close code the socket must get now, or None if it may stay open."""
        if watch.expires_at is not None and watch.expires_at <= utcnow():
            return CLOSE_UNAUTHORIZED
        now = await self.rechecks[watch.kind].viewer(watch.raw, urgent=urgent)
        if now is None:
            return CLOSE_UNAUTHORIZED
        if now is not True and now != watch.viewer:
            return CLOSE_FORBIDDEN
        return None
