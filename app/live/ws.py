"""WebSocket endpoints: handshake checks, then replay from the database, then live.

Every socket is checked before `accept()`: the Origin (a browser socket must come from our own
origin; programs send none) and the credentials (bearer token or session cookie). A refused
socket is closed before the handshake completes, which the client sees as HTTP 403.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from app.accounts import service as accounts
from app.accounts.viewer import Viewer
from app.config import Settings
from app.db import Database
from app.live.events import LiveEvent, event_json, head_seq
from app.live.hub import Hub, Renderer, Subscriber

router = APIRouter()
log = logging.getLogger("samvirke.live")

HEARTBEAT_SECONDS = 15.0
RECHECK_WINDOW = 0.25  # seconds that credential re-checks wait to share one read
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


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


async def _viewer_from_token(hub: Hub, db: Database, token: str) -> Viewer | None:
    def check() -> Viewer | None:
        with db.read_session() as session:
            user = accounts.token_user(session, token)
            return Viewer.of(user) if user else None

    return await hub.read(check)


class TokenRechecks:
    """The heartbeats' credential re-checks, coalesced: one read for all tokens due together.

    A thousand open sockets re-checked one by one cost a thousand read transactions per
    heartbeat period, each in a worker thread competing with the fan-out for the GIL. Here every
    check asked for within RECHECK_WINDOW shares one session. If that read fails, the sockets
    stay open (a database hiccup must not log everyone out); the next heartbeat asks again.
    """

    def __init__(self, hub: Hub, db: Database) -> None:
        self.hub, self.db = hub, db
        self.waiting: dict[str, list[asyncio.Future[Viewer | None | bool]]] = {}
        self.flush: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, websocket: WebSocket) -> TokenRechecks:
        state = websocket.app.state
        checks: TokenRechecks | None = getattr(state, "live_token_rechecks", None)
        if checks is None:
            checks = state.live_token_rechecks = cls(state.hub, state.db)
        return checks

    async def still_valid(self, token: str, viewer: Viewer) -> bool:
        future: asyncio.Future[Viewer | None | bool] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(token, []).append(future)
        if self.flush is None:
            self.flush = asyncio.create_task(self._flush())
        now = await future
        return now is True or now == viewer

    async def _flush(self) -> None:
        await asyncio.sleep(RECHECK_WINDOW)
        batch, self.waiting, self.flush = self.waiting, {}, None

        def read() -> dict[str, Viewer | None]:
            with self.db.read_session() as session:
                users = {token: accounts.token_user(session, token) for token in batch}
            return {token: Viewer.of(user) if user else None for token, user in users.items()}

        found: dict[str, Viewer | None | bool]
        try:
            found = dict(await self.hub.read(read))
        except Exception:
            log.exception("live: credential re-check failed; sockets stay open until the next")
            found = dict.fromkeys(batch, True)
        for token, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(found[token])


async def _incident_head(hub: Hub, db: Database, incident_id: int) -> int | None:
    def read() -> int | None:
        with db.read_session() as session:
            return head_seq(session, incident_id)

    return await hub.read(read)


@router.websocket("/api/v1/incidents/{incident_id}/events")
async def incident_events(websocket: WebSocket, incident_id: int, after: int = 0) -> None:
    """Events of one incident as JSON (docs/live.md): replay after `after`, then live."""
    db: Database = websocket.app.state.db
    hub: Hub = websocket.app.state.hub
    if not origin_allowed(websocket):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    token = _bearer(websocket)
    viewer = await _viewer_from_token(hub, db, token) if token else None
    if viewer is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    if await _incident_head(hub, db, incident_id) is None:
        await websocket.close(code=CLOSE_NOT_FOUND)
        return

    async def still_valid() -> bool:
        return token is not None and await TokenRechecks.of(websocket).still_valid(token, viewer)

    await websocket.accept()
    await serve(
        websocket,
        incident_id=incident_id,
        after=max(after, 0),
        subscriber=Subscriber(viewer=viewer, key=("json", viewer.audience), render=event_json),
        still_valid=still_valid,
    )


async def serve(
    websocket: WebSocket,
    *,
    incident_id: int,
    after: int,
    subscriber: Subscriber,
    still_valid: Callable[[], Awaitable[bool]],
) -> None:
    """Run an accepted socket until either side ends it.

    Three tasks share the socket: `_send` (replay, then live), `_drain` (notices the client
    leaving) and `_heartbeat` (on its own clock, so a busy incident cannot postpone the check
    of the credentials). Whichever ends first ends the others.
    """
    hub: Hub = websocket.app.state.hub
    await hub.subscribe(incident_id, subscriber)
    try:
        async with anyio.create_task_group() as group:

            async def run(part: Callable[[], Awaitable[None]]) -> None:
                await part()
                group.cancel_scope.cancel()

            group.start_soon(run, partial(_send, websocket, hub, incident_id, after, subscriber))
            group.start_soon(run, partial(_drain, websocket))
            group.start_soon(run, partial(_heartbeat, websocket, still_valid))
    except* (WebSocketDisconnect, WebSocketDisconnected, OSError):
        pass  # the client went away mid-send
    finally:
        hub.unsubscribe(incident_id, subscriber)


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


async def _replay(
    websocket: WebSocket, hub: Hub, incident_id: int, last: int, render: Renderer, viewer: Viewer
) -> int:
    """Send every stored event after `last`, in order; returns the new `last`."""
    while True:
        events: list[LiveEvent] = await hub.read(hub.load, incident_id, last)
        if not events:
            return last
        for event in events:
            await websocket.send_text(render(event, viewer))
            last = event.seq


async def _send(
    websocket: WebSocket, hub: Hub, incident_id: int, after: int, subscriber: Subscriber
) -> None:
    """Replay from the database, then relay the queue; fall back to the database on any gap."""
    render, viewer, queue = subscriber.render, subscriber.viewer, subscriber.queue
    last = await _replay(websocket, hub, incident_id, after, render, viewer)
    while True:
        if subscriber.behind:
            while not queue.empty():
                queue.get_nowait()
            subscriber.behind = False
            last = await _replay(websocket, hub, incident_id, last, render, viewer)
            continue
        seq, message = await queue.get()
        if seq <= last:
            continue  # already sent by a replay
        if seq > last + 1:
            last = await _replay(websocket, hub, incident_id, last, render, viewer)
            if seq <= last:
                continue
        await websocket.send_text(message)
        last = seq
