"""The bus carries wake-ups between instances: (incident id, seq), never the events themselves.

On SQLite there is one instance and the commit hook in app.db wakes the hub directly, so no
bus runs. On PostgreSQL each instance LISTENs on the channel that the write path NOTIFYs inside
its transaction; the listener reconnects with backoff, and the hub's periodic re-check covers
whatever was said while it was away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from app.db import NOTIFY_CHANNEL

log = logging.getLogger("samvirke.live")

Wake = Callable[[int, int], None]


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class PostgresBus:
    def __init__(self, url: str, wake: Wake) -> None:
        self.url = _libpq_url(url)
        self.wake = wake
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
                    self.listening.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        self._dispatch(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: wait, reconnect, re-check
                self.listening.clear()
                log.warning("live bus: connection lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _dispatch(self, payload: str) -> None:
        incident, _, seq = payload.partition(":")
        try:
            self.wake(int(incident), int(seq))
        except ValueError:
            log.warning("live bus: ignored malformed payload %r", payload)
