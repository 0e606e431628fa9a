"""The pages' WebSockets: the incident page and the incident list, as htmx fragments.

The same rules as the programs' socket (`live/ws.py`, whose `serve` runs these too), with a
browser's credentials: the session cookie instead of a bearer token, checked again at once when
the user's access changes and at every heartbeat (signing out closes the socket with 4401, a
change of clearance or role with 4403), and an Origin that must be present
and our own — a browser always sends one, and a socket opened by a foreign page would carry the
user's cookie. Resume is `?after=N`: live.js reopens with the last seq it applied, so a
reconnect gets exactly what it missed. Messages are documented in docs/live.md.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, WebSocket

from app.accounts.viewer import Viewer
from app.config import Settings
from app.incidents.listing import IncidentList
from app.incidents.live import list_message
from app.live.guard import Admitted
from app.live.hub import Hub
from app.live.render import incident_message
from app.live.subscriber import Subscriber
from app.live.ws import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHORIZED,
    IncidentFeed,
    accept_from,
    accept_incident,
    admit,
    origin_allowed,
    serve,
)
from app.ui.reader import SESSION_COOKIE, language_of

router = APIRouter()


class ListFeed:
    """The incident list: its catch-up is the current list, if newer than what the page has.

    List versions jump (they are sums of the incidents' seqs), so a jump is not a gap.
    """

    contiguous = False

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def subscribe(self, subscriber: Subscriber[IncidentList]) -> None:
        await self.hub.subscribe_list(subscriber)

    def unsubscribe(self, subscriber: Subscriber[IncidentList]) -> None:
        self.hub.unsubscribe_list(subscriber)

    async def catch_up(
        self, websocket: WebSocket, last: int, subscriber: Subscriber[IncidentList]
    ) -> int:
        listing = await self.hub.read(self.hub.load_list)
        if listing.version <= last:
            return last
        if subscriber.held:  # its rights are being re-checked: go on once released
            subscriber.behind = True
            return last
        await websocket.send_text(subscriber.render(listing, subscriber.viewer))
        return listing.version


async def _admit(websocket: WebSocket) -> tuple[Viewer, str, Admitted] | None:
    """The reader (viewer, language, session), or None after refusing the handshake."""
    if websocket.headers.get("origin") is None or not origin_allowed(websocket):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return None
    admitted = await admit(websocket, "session", websocket.cookies.get(SESSION_COOKIE))
    if admitted is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return None
    user = admitted.credential.user
    return Viewer.of(user), language_of(websocket, user), admitted


@router.websocket("/live/incidents/{incident_id}")
async def incident_page(websocket: WebSocket, incident_id: int, after: int = 0) -> None:
    """The incident page's events after `after`, then live, as out-of-band swaps."""
    admitted = await _admit(websocket)
    if admitted is None:
        return
    viewer, lang, session = admitted
    settings: Settings = websocket.app.state.settings
    if not await accept_incident(websocket, incident_id, after):
        return
    await serve(
        websocket,
        feed=IncidentFeed(websocket.app.state.hub, incident_id),
        after=max(after, 0),
        subscriber=Subscriber(
            viewer=viewer,
            key=("page", viewer.audience, lang),
            render=partial(incident_message, lang=lang, zone=settings.zone),
        ),
        admitted=session,
    )


@router.websocket("/live/incidents")
async def incident_list(websocket: WebSocket, after: int = 0) -> None:
    """The incident list whenever it changes (and at once if newer than version `after`)."""
    admitted = await _admit(websocket)
    if admitted is None:
        return
    viewer, lang, session = admitted
    settings: Settings = websocket.app.state.settings
    hub: Hub = websocket.app.state.hub
    if not await accept_from(websocket, after, await hub.read(hub.list_version)):
        return
    await serve(
        websocket,
        feed=ListFeed(hub),
        after=max(after, 0),
        subscriber=Subscriber(
            viewer=viewer,
            key=("list", lang),
            render=partial(list_message, lang=lang, zone=settings.zone),
        ),
        admitted=session,
    )
