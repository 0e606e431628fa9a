"""Database engine and sessions.

One `Database` per process. On SQLite every connection runs in WAL mode with
`synchronous=FULL` (a commit is on disk before we answer), foreign keys on and a busy timeout.
Write transactions start with `BEGIN IMMEDIATE`, so concurrent writers queue for the single
write lock at the start instead of failing half-way: serialised by design. Within one process
they all use one writing connection, lent out in arrival order (`_WriterPool`, with a lock per
database file), so they wait their turn in a queue instead of polling SQLite's busy handler
(which sleeps 1…100 ms between tries and serves nobody in order), and the writer's page cache
stays warm; SQLite's own lock still guards against other processes (the CLI). Read
transactions start with a plain `BEGIN` and never wait. On PostgreSQL the services lock the
incident row (`SELECT … FOR UPDATE`), which serialises the appends of one incident and nothing
else, and reads run in REPEATABLE READ so that each read sees one snapshot.

Anyone may open a read session, and it refuses to write (`ReadOnly`); a write session is
opened by an action alone (`app.actions.transaction`), for its use case and nothing else.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, MetaData, event, exc, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

if TYPE_CHECKING:
    from app.log.signing import Signer

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

_NO_SNAPSHOT_OPTION = "samvirke_no_snapshot"


# The largest id or number an INTEGER column holds on PostgreSQL. Inputs are bounded by it, so
# a huge number in a URL or body is a 422, not an overflow deep in the driver.
INT_MAX = 2**31 - 1


def is_id(value: int) -> bool:
    """Whether `value` can be a row's id at all: a larger one (from a URL) would overflow the
    driver (PostgreSQL integer, SQLite's 64 bits) instead of finding nothing."""
    return 0 < value <= INT_MAX


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def create_sqlite_file(url: str) -> None:
    """Make a new SQLite database file readable by its owner only.

    The file is created 0600 before SQLite opens it (SQLite would make it 0644), and SQLite
    gives its -wal and -shm files the database file's mode; a folder made for it is 0700.
    An existing file or folder is left as it is: its mode is the operator's choice.
    """
    database = make_url(normalise_url(url)).database
    if not url.startswith("sqlite") or not database or database.startswith((":memory:", "file:")):
        return
    path = Path(database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def normalise_url(url: str) -> str:
    """Accept the usual PostgreSQL spellings and use psycopg 3 for all of them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Seconds a writer waits for its turn (SQLite's write lane and busy timeout, PostgreSQL's row
# lock) before giving up with 503: the default of `SAMVIRKE_WRITE_WAIT`.
WRITE_WAIT = 30.0
# Reading connections per SQLite database: one for every thread of the server's thread pool
# (40), so that no reader waits for a connection; lent most recently returned first.
SQLITE_POOL_SIZE = 40
# Write requests that usefully run their blocking work at once on SQLite: one writing, one
# getting ready (its token check). More would only queue for the writer as threads that
# fight over the GIL with the one that writes (app.deps.write_limiter).
SQLITE_WRITERS_AT_ONCE = 2


class _WriteLock:
    """First come, first served: the writers of one database file in this process, in turn.

    A plain `threading.Lock` (or a pool's queue) lets a thread that arrives just as the lock is
    released overtake the ones already waiting; under a steady stream of writers a few unlucky
    ones then wait for seconds. Here each waiter has its own ticket and the lock is handed to
    the oldest. It may be released by another thread than the one that took it.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held and not self._waiters:
                self._held = True
                return True
            ticket = threading.Lock()
            ticket.acquire()
            self._waiters.append(ticket)
        if ticket.acquire(timeout=timeout):
            return True  # handed over by release(): we hold the lock now
        with self._mutex:
            if ticket in self._waiters:
                self._waiters.remove(ticket)
                return False
        return True  # handed over just as we gave up: ours after all

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # stays held, by the next in line
            else:
                self._held = False


_write_locks: dict[str, _WriteLock] = {}
_write_locks_guard = threading.Lock()


def _write_lock_for(url: str) -> _WriteLock:
    """One lock per database file, shared by every engine of this process that opens it."""
    database = make_url(url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return _WriteLock()  # a private database: nobody else to share the lock with
    with _write_locks_guard:
        return _write_locks.setdefault(os.path.realpath(database), _WriteLock())


class _WriterPool(QueuePool):
    """The pool of the one writing connection: lent out in arrival order, one writer at a time.

    The write lock is taken before the connection is handed out and given back once it has
    been returned, that is after its transaction ended (committed, so on disk, or rolled back)
    and the pool reset it. Waiting writers queue on the lock, never in SQLite's busy handler.
    """

    write_lock: _WriteLock  # set per database file by `_writer_pool_class`
    write_wait: float  # seconds

    def _do_get(self) -> ConnectionPoolEntry:
        if not self.write_lock.acquire(timeout=self.write_wait):
            raise exc.TimeoutError(f"No turn to write within {self.write_wait:g} s.")
        try:
            return super()._do_get()
        except BaseException:
            self.write_lock.release()
            raise

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            self.write_lock.release()


def _writer_pool_class(url: str, wait: float) -> type[_WriterPool]:
    attributes = {"write_lock": _write_lock_for(url), "write_wait": wait}
    return type("WriterPool", (_WriterPool,), attributes)


def _sqlite_engine(url: str, *, writer: bool, wait: float) -> Engine:
    """The reading engine (a pool of connections), or the writing one (a single connection).

    Writes are serialised anyway, and a connection that alone writes keeps its page cache and
    prepared statements warm: any other connection's commit empties a connection's cache.
    """
    connect_args = {"check_same_thread": False, "timeout": wait}
    if writer:
        engine = create_engine(
            url,
            connect_args=connect_args,
            poolclass=_writer_pool_class(url, wait),
            pool_size=1,
            max_overflow=0,
        )
    else:
        engine = create_engine(
            url,
            connect_args=connect_args,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=10,
            pool_use_lifo=True,  # the most recently used connections, warm in the CPU's caches
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if writer:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif not conn.get_execution_options().get(_NO_SNAPSHOT_OPTION, False):
            conn.exec_driver_sql("BEGIN")
        # else: no BEGIN, so each statement reads the latest commit on its own (autocommit)

    return engine


class ReadOnly(RuntimeError):
    """A write in a read session: writes belong in an action (app/actions.py)."""


class _ReadSession(Session):
    """A session that refuses to write (see the listeners below), so that no route, page or
    live push writes beside the actions, outside the write lane and its lock."""


class Database:
    """The engine plus the two kinds of session the app uses: read (anyone) and write (actions)."""

    def __init__(
        self,
        url: str,
        *,
        language: str = "nb",
        write_wait: float = WRITE_WAIT,
        signer: Signer | None = None,
    ) -> None:
        self.url = normalise_url(url)
        # What every action is lent (app/actions.py): the instance's language, and the key that
        # signs the logs' checkpoints (app/log/checkpoints.py; None signs nothing).
        self.language = language
        self.signer = signer
        self.is_sqlite = self.url.startswith("sqlite")
        # None: as many as the thread pool allows (PostgreSQL locks one incident at a time).
        self.writers_at_once: int | None = SQLITE_WRITERS_AT_ONCE if self.is_sqlite else None
        if self.is_sqlite:
            create_sqlite_file(self.url)
            self.engine = _sqlite_engine(self.url, writer=False, wait=write_wait)
            self._write_engine = _sqlite_engine(self.url, writer=True, wait=write_wait)
        else:
            # A row lock held past the wait (a stuck transaction) fails the write, as the
            # write lane's wait does on SQLite, rather than leaving its writer hanging.
            self.engine = create_engine(
                self.url,
                pool_size=20,
                max_overflow=20,
                pool_pre_ping=True,
                connect_args={"options": f"-c lock_timeout={int(write_wait * 1000)}"},
            )
            self._write_engine = self.engine
        # A read sees one snapshot (SQLite's deferred BEGIN does this already), so a page's
        # log and the event seq it resumes from always agree.
        self._read_engine = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )
        # A lookup that needs no snapshot (one row here, one there) skips BEGIN and ROLLBACK on
        # SQLite, which cost as much as the lookup itself; on PostgreSQL it is a read as above.
        self._lookup_engine = (
            self.engine.execution_options(**{_NO_SNAPSHOT_OPTION: True})
            if self.is_sqlite
            else self._read_engine
        )

    def _session(self, engine: Engine, kind: type[Session]) -> Session:
        session = kind(engine, expire_on_commit=False)
        session.info["database"] = self  # where app/bus.py hands out the commit's notices
        return session

    @contextmanager
    def read_session(self, *, snapshot: bool = True) -> Iterator[Session]:
        """A read session (it refuses to write: `ReadOnly`); with `snapshot=False`, for lookups
        whose statements need not see one snapshot together."""
        engine = self._read_engine if snapshot else self._lookup_engine
        with self._session(engine, _ReadSession) as session:
            yield session

    @contextmanager
    def _write_session(self) -> Iterator[Session]:
        """A write session. Only `app.actions.transaction` opens one: an action's own."""
        with self._session(self._write_engine, Session) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_engine is not self.engine:
            self._write_engine.dispose()


@event.listens_for(_ReadSession, "before_flush")
def _refuse_flush(session: Session, _context: object, _instances: object) -> None:
    raise ReadOnly("This session only reads: write in an action (app/actions.py).")


@event.listens_for(_ReadSession, "do_orm_execute")
def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnly("This session only reads: write in an action (app/actions.py).")
