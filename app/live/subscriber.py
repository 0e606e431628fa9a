"""One socket's subscription to a room: what it is sent, and how a message reaches it.

The hub's fan-out calls `offer` for every subscriber, synchronously. While the socket's sender
task is parked (caught up, nothing queued), the message is sent right there: a send that need
not wait (the transport takes the bytes) is done at once, so a thousand subscribers cost a
thousand socket writes and no task switches. A send that has to wait (a slow reader has filled
its transport's buffer) is handed to the sender task to finish, and what comes next queues
behind it. The queue is bounded: past QUEUE_MAX the subscriber is `behind`, forgets the queue
and catches up from the database, so a stalled client neither slows the others nor grows
memory. A subscriber whose viewer's access is being re-checked is `held` (live/guard.py): what
is offered meanwhile only queues, and goes out once released, or never if the socket closes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.accounts.viewer import Viewer

QUEUE_MAX = 256

Item = TypeVar("Item")  # what a room fans out: a LiveEvent, or the lobby's IncidentList
Send = Callable[[str], Coroutine[Any, Any, None]]


@dataclass(eq=False)
class Subscriber(Generic[Item]):
    """Subscribers with the same `key` get the same text, rendered once for all of them.

    `send` and `contiguous` are set by the socket's sender when it starts; `last` is the newest
    seq sent (or being finished by the sender), whoever sent it.
    """

    viewer: Viewer
    key: Hashable
    render: Callable[[Item, Viewer], str]
    send: Send | None = None
    contiguous: bool = True  # seqs go 1, 2, 3, …: a jump is a gap to fill from the database
    last: int = 0
    pending: deque[tuple[int, str]] = field(default_factory=deque)
    behind: bool = False
    unfinished: Awaitable[None] | None = None
    failed: Exception | None = None
    held: bool = False
    _parked: asyncio.Future[None] | None = None

    def offer(self, seq: int, message: str) -> None:
        if self.behind or self.failed is not None:
            return
        parked = None if self.held else self._parked
        if parked is not None and not parked.done() and self.send is not None and self._next(seq):
            try:
                rest = start(self.send(message))
            except Exception as exc:  # noqa: BLE001 - the socket is gone; its sender ends it
                self.failed = exc
                parked.set_result(None)
                return
            self.last = seq
            if rest is not None:
                self.unfinished = rest
                parked.set_result(None)
            return
        if len(self.pending) >= QUEUE_MAX:
            self.behind = True  # the sender drops the queue and replays from the database
            self.pending.clear()
        else:
            self.pending.append((seq, message))
        if parked is not None and not parked.done():
            parked.set_result(None)

    def _next(self, seq: int) -> bool:
        return seq == self.last + 1 if self.contiguous else seq > self.last

    def hold(self) -> None:
        """Send nothing more until `release`: the viewer's rights are being looked at again."""
        self.held = True

    def release(self) -> None:
        self.held = False
        if self._parked is not None and not self._parked.done() and self._has_work():
            self._parked.set_result(None)

    def _has_work(self) -> bool:
        return bool(self.pending) or self.behind or self.unfinished is not None

    async def wait(self) -> None:
        """Park the sender task until there is something for it to do (and it may)."""
        if self.failed is not None or (not self.held and self._has_work()):
            return
        self._parked = asyncio.get_running_loop().create_future()
        try:
            await self._parked
        finally:
            self._parked = None


def start(coroutine: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Run `coroutine` up to its first wait: None if it finished, else the rest to await."""
    try:
        waiting = coroutine.send(None)
    except StopIteration:
        return None
    return _Rest(coroutine, waiting)


class _Rest:
    """The rest of a coroutine that `start` ran by hand until it yielded `waiting` (the future
    it waits on). Awaiting this resumes it as if it had been awaited from the start: results
    and thrown exceptions (a cancellation) pass through both ways."""

    __slots__ = ("coroutine", "waiting")

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting: Any) -> None:
        self.coroutine, self.waiting = coroutine, waiting

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, waiting = self.coroutine, self.waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # noqa: BLE001 - handed on; the coroutine decides
                try:
                    waiting = coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coroutine.send(sent)
                except StopIteration:
                    return
