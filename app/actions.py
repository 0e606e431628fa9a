"""The one way to write: an action opens, owns and commits its write transaction.

A service function that changes anything (`open_incident`, `append_entry`, `revoke_api_token`,
…) is an action. It takes the `Database`, not a session, and does its whole use case in one
`with transaction(db) as tx:` block: the block is the transaction, committed once when it
ends and rolled back when it raises. Zulip's `zerver/actions/` are the model: the action is
the transaction.

Nothing else hands out a write session: routes, the live push and the CLI get read sessions
only (`Database.read_session`, which refuse to write), look up the caller and the incident
before the action in a short read of their own, and read their answer after it. So the write
lock — on SQLite the database's only one — is held for the use case alone, never across a
lookup, a dependency or the rendering of an answer.

`Transaction` also lends the action what the instance decides, explicitly: the language of
answers that do not depend on the reader, and the key that signs the logs' checkpoints.
Private helpers (`write_entry`, `record_event`, …) take it or its session and never commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session

from app.db import Database

if TYPE_CHECKING:
    from app.log.signing import Signer


@dataclass(frozen=True, slots=True)
class Transaction:
    """An action's write transaction: its session, and what the instance lends every action."""

    session: Session
    language: str  # the instance's (SAMVIRKE_DEFAULT_LANGUAGE)
    signer: Signer | None  # signs checkpoints (app/log/checkpoints.py); None signs nothing


_open = threading.local()


@contextmanager
def transaction(db: Database) -> Iterator[Transaction]:
    """The action's write transaction: committed when the block ends, rolled back if it raises.

    One per thread at a time: an action that called another would wait for its own write lock
    on SQLite, and on PostgreSQL commit half of its work on its own. Call the other's private
    helpers with this transaction instead.
    """
    if getattr(_open, "action", False):
        raise RuntimeError("An action inside an action: pass its Transaction to helpers instead.")
    _open.action = True
    try:
        with db._write_session() as session:
            yield Transaction(session, db.language, db.signer)
            session.commit()
    finally:
        _open.action = False
