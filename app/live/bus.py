"""The bus carries wake-ups between instances: (incident id, seq), never the events themselves,
and the ids of users whose access changed (for the guard, live/guard.py).

On SQLite there is one instance and the commit hook in app.db wakes the hub and the guard
directly, so no bus runs. On PostgreSQL each instance LISTENs on the channels that the writers
NOTIFY inside their transactions; the listener reconnects with backoff, and the hub's periodic
re-check (the heartbeats' for access) covers whatever was said while it was away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from app.db import ACCOUNTS_CHANNEL, NOTIFY_CHANNEL

log = logging.getLogger("samvirke.live")

Wake = Callable[[int, int], None]
AccountsChanged = Callable[[frozenset[int]], None]


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class PostgresBus:
    def __init__(self, url: str, wake: Wake, accounts_changed: AccountsChanged) -> None:
        self.url = _libpq_url(url)
        self.wake = wake
        self.accounts_changed = accounts_changed
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())
        try:
            await asyncio.wait_for(self.listening.wait(), timeout=10)
        except TimeoutError:
            log.warning("live bus: not listening yet; will keep trying")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    await conn.execute(f"LISTEN {ACCOUNTS_CHANNEL}")
                    self.listening.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        self._dispatch(notify.channel, notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: wait, reconnect, re-check
                self.listening.clear()
                log.warning("live bus: connection lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _dispatch(self, channel: str, payload: str) -> None:
        try:
            if channel == ACCOUNTS_CHANNEL:
                self.accounts_changed(frozenset({int(payload)}))
                return
            incident, _, seq = payload.partition(":")
            self.wake(int(incident), int(seq))
        except ValueError:
            log.warning("live bus: ignored malformed payload %r on %s", payload, channel)
