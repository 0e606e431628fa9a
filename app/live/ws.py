"""WebSocket endpoints: handshake checks, then replay from the database, then live.

Every socket is checked before `accept()`: the Origin (a browser socket must come from our own
origin; programs send none) and the credentials (bearer token or session cookie). A refused
socket is closed before the handshake completes, which the client sees as HTTP 403.

`serve` runs every accepted socket, the programs' JSON one here and the pages' HTML ones in
`live/pages.py`: what differs is the `Feed` (which hub room, how to catch up from the database)
and the subscriber's renderer, never the replay, gap and heartbeat rules.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, WebSocket
from sqlmodel import Session
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from app.accounts import service as accounts
from app.accounts.models import User
from app.accounts.viewer import Viewer
from app.config import Settings
from app.db import Database
from app.deps import reader_language
from app.live.events import LiveEvent, event_json, head_seq
from app.live.hub import Hub
from app.live.subscriber import Subscriber

router = APIRouter()
log = logging.getLogger("samvirke.live")

HEARTBEAT_SECONDS = 15.0
RECHECK_WINDOW = 0.25  # seconds that credential re-checks wait to share one read
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_AHEAD = 4409  # `after` is beyond the newest event: the client has another history


async def accept_from(websocket: WebSocket, after: int, newest: int) -> bool:
    """Accept the socket; then close it with 4409 if the client claims to have more than there
    is. That happens only if the database is not the one the client followed (restored from
    a backup, say): replaying from there would skip everything up to its `after`, silently."""
    await websocket.accept()
    if after <= newest:
        return True
    await websocket.close(
        code=CLOSE_AHEAD,
        reason=f"after={after} is beyond the newest ({newest}); start again from after=0",
    )
    return False


def origin_allowed(websocket: WebSocket) -> bool:
    """No Origin (a program) is fine; a browser's Origin must be this app's own."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    settings: Settings = websocket.app.state.settings
    base = urlsplit(settings.base_url)
    own = {f"{base.scheme}://{base.netloc}".lower()}
    host = websocket.headers.get("host")
    if host:
        scheme = "https" if websocket.url.scheme == "wss" else "http"
        own.add(f"{scheme}://{host}".lower())
    return origin.lower() in own


def _bearer(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


Lookup = Callable[[Session, str], User | None]
LOOKUPS: dict[str, Lookup] = {"token": accounts.token_user, "session": accounts.session_user}


async def credential_user(hub: Hub, db: Database, kind: str, raw: str) -> User | None:
    """The user of a bearer token (`kind` "token") or a session cookie ("session"), if valid."""

    def check() -> User | None:
        with db.read_session() as session:
            return LOOKUPS[kind](session, raw)

    return await hub.read(check)


class CredentialRechecks:
    """The heartbeats' credential re-checks, coalesced: one read for all credentials due together.

    A thousand open sockets re-checked one by one cost a thousand read transactions per
    heartbeat period, each in a worker thread competing with the fan-out for the GIL. Here every
    check asked for within RECHECK_WINDOW shares one session. If that read fails, the sockets
    stay open (a database hiccup must not log everyone out); the next heartbeat asks again.
    One instance per kind of credential: bearer tokens, session cookies.
    """

    def __init__(self, hub: Hub, db: Database, lookup: Lookup) -> None:
        self.hub, self.db, self.lookup = hub, db, lookup
        self.waiting: dict[str, list[asyncio.Future[Viewer | None | bool]]] = {}
        self.flush: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, websocket: WebSocket, kind: str) -> CredentialRechecks:
        state = websocket.app.state
        if not hasattr(state, "live_rechecks"):
            state.live_rechecks = {}
        checks: CredentialRechecks | None = state.live_rechecks.get(kind)
        if checks is None:
            checks = state.live_rechecks[kind] = cls(state.hub, state.db, LOOKUPS[kind])
        return checks

    async def still_valid(self, raw: str, viewer: Viewer) -> bool:
        future: asyncio.Future[Viewer | None | bool] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(raw, []).append(future)
        if self.flush is None:
            self.flush = asyncio.create_task(self._flush())
        now = await future
        return now is True or now == viewer

    async def _flush(self) -> None:
        await asyncio.sleep(RECHECK_WINDOW)
        batch, self.waiting, self.flush = self.waiting, {}, None

        def read() -> dict[str, Viewer | None]:
            with self.db.read_session() as session:
                users = {raw: self.lookup(session, raw) for raw in batch}
            return {raw: Viewer.of(user) if user else None for raw, user in users.items()}

        found: dict[str, Viewer | None | bool]
        try:
            found = dict(await self.hub.read(read))
        except Exception:
            log.exception("live: credential re-check failed; sockets stay open until the next")
            found = dict.fromkeys(batch, True)
        for raw, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(found[raw])


async def accept_incident(websocket: WebSocket, incident_id: int, after: int) -> bool:
    """An incident's socket, JSON or page: refused (4404) if there is no such incident, else
    accepted, then closed with 4409 if `after` is beyond its newest event (`accept_from`)."""
    hub: Hub = websocket.app.state.hub
    db: Database = websocket.app.state.db

    def read() -> int | None:
        with db.read_session() as session:
            return head_seq(session, incident_id)

    head = await hub.read(read)
    if head is None:
        await websocket.close(code=CLOSE_NOT_FOUND)
        return False
    return await accept_from(websocket, after, head)


@router.websocket("/api/v1/incidents/{incident_id}/events")
async def incident_events(websocket: WebSocket, incident_id: int, after: int = 0) -> None:
    """Events of one incident as JSON (docs/live.md): replay after `after`, then live."""
    db: Database = websocket.app.state.db
    hub: Hub = websocket.app.state.hub
    if not origin_allowed(websocket):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    token = _bearer(websocket)
    user = await credential_user(hub, db, "token", token) if token else None
    if token is None or user is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    viewer, lang = Viewer.of(user), reader_language(websocket)
    if not await accept_incident(websocket, incident_id, after):
        return
    await serve(
        websocket,
        feed=IncidentFeed(hub, incident_id),
        after=max(after, 0),
        subscriber=Subscriber(
            viewer=viewer,
            key=("json", viewer.audience, lang),
            render=partial(event_json, lang=lang),
        ),
        still_valid=partial(CredentialRechecks.of(websocket, "token").still_valid, token, viewer),
    )


class Feed(Protocol):
    """What a socket follows: its room in the hub, and how it catches up from the database."""

    contiguous: bool  # seqs go 1, 2, 3, …: a jump is a gap to fill from the database

    async def subscribe(self, subscriber: Subscriber[Any]) -> None: ...

    def unsubscribe(self, subscriber: Subscriber[Any]) -> None: ...

    async def catch_up(self, websocket: WebSocket, last: int, subscriber: Subscriber[Any]) -> int:
        """Send what is stored after `last`, in order; return the new `last`."""
        ...


class IncidentFeed:
    """One incident's events, replayed from the `event` table."""

    contiguous = True

    def __init__(self, hub: Hub, incident_id: int) -> None:
        self.hub, self.incident_id = hub, incident_id

    async def subscribe(self, subscriber: Subscriber[LiveEvent]) -> None:
        await self.hub.subscribe(self.incident_id, subscriber)

    def unsubscribe(self, subscriber: Subscriber[LiveEvent]) -> None:
        self.hub.unsubscribe(self.incident_id, subscriber)

    async def catch_up(
        self, websocket: WebSocket, last: int, subscriber: Subscriber[LiveEvent]
    ) -> int:
        hub, render, viewer = self.hub, subscriber.render, subscriber.viewer
        while True:
            events: list[LiveEvent] = await hub.read(hub.load, self.incident_id, last)
            if not events:
                return last
            for event in events:
                await websocket.send_text(render(event, viewer))
                last = event.seq


async def serve(
    websocket: WebSocket,
    *,
    feed: Feed,
    after: int,
    subscriber: Subscriber[Any],
    still_valid: Callable[[], Awaitable[bool]],
) -> None:
    """Run an accepted socket until either side ends it.

    Three tasks share the socket: `_send` (replay, then live), `_drain` (notices the client
    leaving) and `_heartbeat` (on its own clock, so a busy incident cannot postpone the check
    of the credentials). Whichever ends first ends the others.
    """
    await feed.subscribe(subscriber)
    try:
        async with anyio.create_task_group() as group:

            async def run(part: Callable[[], Awaitable[None]]) -> None:
                await part()
                group.cancel_scope.cancel()

            group.start_soon(run, partial(_send, websocket, feed, after, subscriber))
            group.start_soon(run, partial(_drain, websocket))
            group.start_soon(run, partial(_heartbeat, websocket, still_valid))
    except* (WebSocketDisconnect, WebSocketDisconnected, OSError):
        pass  # the client went away mid-send
    finally:
        feed.unsubscribe(subscriber)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return


async def _heartbeat(websocket: WebSocket, still_valid: Callable[[], Awaitable[bool]]) -> None:
    """Every HEARTBEAT_SECONDS: close the socket if its credentials ended, else say we are here.

    The first beat comes after a random part of the period, so that sockets opened together
    (a reconnect storm after a restart) do not check their credentials in one burst.
    """
    await asyncio.sleep(HEARTBEAT_SECONDS * random.uniform(0.5, 1.0))
    while True:
        if not await still_valid():
            await websocket.close(code=CLOSE_UNAUTHORIZED)
            return
        await websocket.send_text(
            json.dumps({"type": "heartbeat", "time": datetime.now(UTC).isoformat()})
        )
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def _send(websocket: WebSocket, feed: Feed, after: int, subscriber: Subscriber[Any]) -> None:
    """Catch up from the database, then send what the fan-out could not send itself (a queue,
    a send that had to wait), and back to the database on any gap or overflow."""
    subscriber.contiguous = feed.contiguous
    subscriber.last = await feed.catch_up(websocket, after, subscriber)
    subscriber.send = websocket.send_text
    pending = subscriber.pending
    while True:
        await subscriber.wait()
        if subscriber.failed is not None:
            raise subscriber.failed
        if subscriber.unfinished is not None:
            rest, subscriber.unfinished = subscriber.unfinished, None
            await rest
        if subscriber.behind:
            subscriber.behind = False
            subscriber.last = await feed.catch_up(websocket, subscriber.last, subscriber)
            continue
        while pending and not subscriber.behind:
            seq, message = pending.popleft()
            if seq <= subscriber.last:
                continue  # already sent by a catch-up
            if feed.contiguous and seq > subscriber.last + 1:
                subscriber.last = await feed.catch_up(websocket, subscriber.last, subscriber)
                if seq <= subscriber.last:
                    continue
            await websocket.send_text(message)
            subscriber.last = seq
