"""How a worker hears that work may be due: its one tie to the bus.

`enqueue` marks its transaction; after that transaction commits, the workers listening on the
same `Database` are told at once (from the committing thread), and after a rollback nobody is,
since the item never existed. Other processes and instances see new items at their next look
(`loop.POLL_SECONDS`), or at the item's `run_at` if they read it before.

The worker does not wake on every incident event: a job that follows from an event is
enqueued in that event's transaction, and this commit notice is what wakes the worker, so an
append that enqueues nothing costs it nothing. When the typed bus (app/bus.py) lands, the
notice becomes one of its messages (NOTIFYed to the other instances on PostgreSQL) and
`listen` is the one function to re-point.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlmodel import Session

from app.db import Database

Wake = Callable[[], None]
_QUEUED = "worker_queued"  # session.info key: this transaction enqueued work
_listeners: WeakKeyDictionary[Database, list[Wake]] = WeakKeyDictionary()
_guard = threading.Lock()


def note_queued(session: Session) -> None:
    session.info[_QUEUED] = True


def listen(db: Database, wake: Wake) -> Callable[[], None]:
    """Call `wake` after every commit through `db` that enqueued work; returns the way to stop."""
    with _guard:
        _listeners.setdefault(db, []).append(wake)

    def stop() -> None:
        with _guard:
            mine = _listeners.get(db, [])
            if wake in mine:
                mine.remove(wake)

    return stop


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if not session.info.pop(_QUEUED, False):
        return
    db = session.info.get("database")
    with _guard:
        wakes = list(_listeners.get(db, ())) if isinstance(db, Database) else []
    for wake in wakes:
        wake()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_QUEUED, None)
