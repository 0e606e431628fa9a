"""What an attacker with the database (but not the signing key) does to a log, in plain SQL.

Triggers are dropped as the table owner would, rows rewritten with Core statements, and the
chain recomputed with the documented encoding, so the hash chain itself verifies again: only
the signed checkpoints are left to tell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, delete, insert, select, update

from app.db import Database
from app.incidents.models import Incident
from app.log import chain
from app.log.models import LogCheckpoint, LogEntry
from tests.helpers import drop_triggers

ENTRIES: Table = LogEntry.__table__  # type: ignore[attr-defined]
CHECKPOINTS: Table = LogCheckpoint.__table__  # type: ignore[attr-defined]
INCIDENTS: Table = Incident.__table__  # type: ignore[attr-defined]

Row = dict[str, Any]


def entries(db: Database, incident_id: int) -> list[Row]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(ENTRIES).where(ENTRIES.c.incident_id == incident_id).order_by(ENTRIES.c.number)
        )
        return [dict(row._mapping) for row in rows]


def rechain(rows: list[Row]) -> list[Row]:
    """Number the rows 1, 2, 3, … and recompute every digest and hash (either chain version)."""
    prev = chain.GENESIS
    for number, row in enumerate(rows, start=1):
        row["number"] = number
        row["prev_hash"] = prev
        row["content_digest"] = chain.stored_digest(LogEntry.model_construct(**row))
        row["hash"] = prev = chain.stored_hash(LogEntry.model_construct(**row))
    return rows


def rewrite_log(db: Database, incident_id: int, edit: Callable[[list[Row]], list[Row]]) -> None:
    """Replace the log with `edit(rows)` rechained, and the incident's counters to match."""
    rows = rechain(edit(entries(db, incident_id)))
    drop_triggers(db, "log_entry", "event", "incident")  # every guard (migration 0003)
    with db.engine.begin() as conn:
        conn.execute(delete(ENTRIES).where(ENTRIES.c.incident_id == incident_id))
        for row in rows:
            conn.execute(insert(ENTRIES), {k: v for k, v in row.items() if k != "id"})
        conn.execute(
            update(INCIDENTS)
            .where(INCIDENTS.c.id == incident_id)
            .values(log_count=len(rows), log_head_hash=rows[-1]["hash"] if rows else None)
        )


def delete_checkpoints(db: Database, incident_id: int, *, from_number: int = 0) -> None:
    drop_triggers(db, "log_checkpoint")
    with db.engine.begin() as conn:
        conn.execute(
            delete(CHECKPOINTS).where(
                CHECKPOINTS.c.incident_id == incident_id, CHECKPOINTS.c.number >= from_number
            )
        )
