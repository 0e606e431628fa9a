"""WebSocket endpoints: handshake checks, then replay from the database, then live.

Every socket is checked before `accept()`: the Origin (a browser socket must come from our own
origin; programs send none) and the credentials (bearer token or session cookie). A refused
socket is closed before the handshake completes, which the client sees as HTTP 403.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.accounts import service as accounts
from app.accounts.viewer import Viewer
from app.config import Settings
from app.db import Database
from app.live.events import LiveEvent, event_json, head_seq
from app.live.hub import Hub, Renderer, Subscriber

router = APIRouter()

HEARTBEAT_SECONDS = 15.0
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


async def _viewer_from_token(db: Database, token: str) -> Viewer | None:
    def check() -> Viewer | None:
        with db.read_session() as session:
            user = accounts.token_user(session, token)
            return Viewer.of(user) if user else None

    return await asyncio.to_thread(check)


async def _incident_head(db: Database, incident_id: int) -> int | None:
    def read() -> int | None:
        with db.read_session() as session:
            return head_seq(session, incident_id)

    return await asyncio.to_thread(read)


@router.websocket("/api/v1/incidents/{incident_id}/events")
async def incident_events(websocket: WebSocket, incident_id: int, after: int = 0) -> None:
    """Events of one incident as JSON (docs/live.md): replay after `after`, then live."""
    db: Database = websocket.app.state.db
    if not origin_allowed(websocket):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    token = _bearer(websocket)
    viewer = await _viewer_from_token(db, token) if token else None
    if viewer is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    if await _incident_head(db, incident_id) is None:
        await websocket.close(code=CLOSE_NOT_FOUND)
        return

    async def still_valid() -> bool:
        return token is not None and await _viewer_from_token(db, token) == viewer

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
    """Run an accepted socket until either side ends it."""
    hub: Hub = websocket.app.state.hub
    await hub.subscribe(incident_id, subscriber)
    try:
        async with anyio.create_task_group() as group:

            async def send() -> None:
                await _send(websocket, hub, incident_id, after, subscriber, still_valid)
                group.cancel_scope.cancel()

            async def drain() -> None:
                await _drain(websocket)
                group.cancel_scope.cancel()

            group.start_soon(send)
            group.start_soon(drain)
    except (WebSocketDisconnect, ConnectionError):
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


async def _replay(
    websocket: WebSocket, hub: Hub, incident_id: int, last: int, render: Renderer, viewer: Viewer
) -> int:
    """Send every stored event after `last`, in order; returns the new `last`."""
    while True:
        events: list[LiveEvent] = await asyncio.to_thread(hub.load, incident_id, last)
        if not events:
            return last
        for event in events:
            await websocket.send_text(render(event, viewer))
            last = event.seq


async def _send(
    websocket: WebSocket,
    hub: Hub,
    incident_id: int,
    after: int,
    subscriber: Subscriber,
    still_valid: Callable[[], Awaitable[bool]],
) -> None:
    render, viewer = subscriber.render, subscriber.viewer
    last = await _replay(websocket, hub, incident_id, after, render, viewer)
    while True:
        if subscriber.behind:
            while not subscriber.queue.empty():
                subscriber.queue.get_nowait()
            subscriber.behind = False
            last = await _replay(websocket, hub, incident_id, last, render, viewer)
            continue
        try:
            seq, message = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            if not await still_valid():
                await websocket.close(code=CLOSE_UNAUTHORIZED)
                return
            await websocket.send_text(
                json.dumps({"type": "heartbeat", "time": datetime.now(UTC).isoformat()})
            )
            continue
        if seq <= last:
            continue  # already sent by a replay
        if seq > last + 1:
            last = await _replay(websocket, hub, incident_id, last, render, viewer)
            if seq <= last:
                continue
        await websocket.send_text(message)
        last = seq
