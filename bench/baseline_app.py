"""The benchmark's baseline: the same durable, hash-chained append, with nothing around it.

One FastAPI endpoint, `POST /log`, does what an append must do and no more: `BEGIN IMMEDIATE`
on a SQLite database in WAL mode with `synchronous=FULL`, read the previous entry's number and
hash, compute the content digest and the entry hash with `app.log.chain` (the app's own
functions), insert the row, commit, answer 201. No authentication, no ORM, no incident row,
no event row, no viewer filter; the body is a minimal pydantic model.

It is served exactly as `samvirke serve` serves the app (uvicorn, one process, access log on,
sync endpoint run in the thread pool), so the ratio measures what the app adds per request.
Run it as `python bench/baseline_app.py --db FILE --host 127.0.0.1 --port P`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from app.log import chain

INCIDENT_ID = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_entry (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    kind VARCHAR(16) NOT NULL,
    text VARCHAR NOT NULL,
    classification VARCHAR(16) NOT NULL,
    author_id INTEGER,
    author_name VARCHAR(120),
    corrects INTEGER,
    occurred_at DATETIME NOT NULL,
    recorded_at DATETIME NOT NULL,
    content_digest VARCHAR(64) NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    CONSTRAINT uq_log_entry_incident_number UNIQUE (incident_id, number)
)
"""
_INSERT = (
    "INSERT INTO log_entry (incident_id, number, kind, text, classification, author_id,"
    " author_name, corrects, occurred_at, recorded_at, content_digest, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?, ?, ?)"
)
_HEAD = "SELECT number, hash FROM log_entry WHERE incident_id = ? ORDER BY number DESC LIMIT 1"


class EntryIn(BaseModel):
    kind: str
    text: str


def _connect(path: str) -> sqlite3.Connection:
    """The same settings as app.db: WAL, synchronous=FULL, foreign keys, a busy timeout."""
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def create_app(db_path: str) -> FastAPI:
    local = threading.local()
    setup = _connect(db_path)
    setup.execute(_SCHEMA)
    setup.close()

    def conn() -> sqlite3.Connection:
        # One connection per pool thread, like a connection pool sized to the thread pool.
        c: sqlite3.Connection | None = getattr(local, "conn", None)
        if c is None:
            c = local.conn = _connect(db_path)
        return c

    app = FastAPI(title="Samvirke benchmark baseline")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        conn().execute("SELECT 1").fetchone()
        return {"status": "ok"}

    @app.get("/pragmas")
    def pragmas() -> dict[str, Any]:
        c = conn()
        return {
            "journal_mode": c.execute("PRAGMA journal_mode").fetchone()[0],
            "synchronous": c.execute("PRAGMA synchronous").fetchone()[0],
        }

    @app.post("/log", status_code=201)
    def append(body: EntryIn) -> dict[str, Any]:
        c = conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            row = c.execute(_HEAD, (INCIDENT_ID,)).fetchone()
            number, prev_hash = (row[0] + 1, row[1]) if row else (1, chain.GENESIS)
            now = datetime.now(UTC)
            digest = chain.content_digest(
                kind=body.kind, text=body.text, author_id=None, author_name=None, corrects=None
            )
            entry_hash = chain.entry_hash(
                version=1,
                incident_id=INCIDENT_ID,
                number=number,
                classification="internal",
                occurred_at=now,
                recorded_at=now,
                digest=digest,
                prev_hash=prev_hash,
            )
            stamp = now.replace(tzinfo=None).isoformat(sep=" ")
            c.execute(
                _INSERT,
                (
                    INCIDENT_ID,
                    number,
                    body.kind,
                    body.text,
                    "internal",
                    stamp,
                    stamp,
                    digest,
                    prev_hash,
                    entry_hash,
                ),
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return {"number": number, "hash": entry_hash, "recorded_at": chain.format_time(now)}

    @app.get("/verify")
    def verify() -> dict[str, Any]:
        """Numbers 1..n without gaps and every entry linked to the one before."""
        rows = (
            conn()
            .execute(
                "SELECT number, prev_hash, hash FROM log_entry WHERE incident_id = ? ORDER BY number",
                (INCIDENT_ID,),
            )
            .fetchall()
        )
        prev, ok = chain.GENESIS, True
        for expected, (number, prev_hash, entry_hash) in enumerate(rows, start=1):
            ok = ok and number == expected and prev_hash == prev
            prev = entry_hash
        return {"ok": ok, "count": len(rows), "head": rows[-1][0] if rows else 0}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite database file (created if missing).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()

    import uvicorn

    # The same uvicorn settings as `samvirke serve` (app/cli.py).
    uvicorn.run(
        create_app(os.path.abspath(args.db)),
        host=args.host,
        port=args.port,
        workers=1,
        proxy_headers=True,
        log_level="info",
    )


if __name__ == "__main__":
    main()
