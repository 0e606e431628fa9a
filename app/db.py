"""Database engine and sessions.

One `Database` per process. On SQLite every connection runs in WAL mode with
`synchronous=FULL` (a commit is on disk before we answer), foreign keys on and a busy timeout.
Write transactions start with `BEGIN IMMEDIATE`, so concurrent writers queue for the single
write lock at the start instead of failing half-way: serialised by design. Read transactions
start with a plain `BEGIN` and never wait. On PostgreSQL the services lock the incident row
(`SELECT … FOR UPDATE`), which serialises the appends of one incident and nothing else, and
reads run in REPEATABLE READ so that each read sees one snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

_WRITE_OPTION = "samvirke_write"
NOTIFY_CHANNEL = "samvirke_events"
WakeListener = Callable[[int, int], None]


# The largest id or number an INTEGER column holds on PostgreSQL. Inputs are bounded by it, so
# a huge number in a URL or body is a 422, not an overflow deep in the driver.
INT_MAX = 2**31 - 1


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


def normalise_url(url: str) -> str:
    """Accept the usual PostgreSQL spellings and use psycopg 3 for all of them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """The engine plus the two kinds of session the app uses: read and write."""

    def __init__(self, url: str, *, language: str = "nb") -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.language = language
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url)
        else:
            self.engine = create_engine(self.url, pool_size=20, max_overflow=20, pool_pre_ping=True)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        # A read sees one snapshot (SQLite's deferred BEGIN does this already), so a page's
        # log and the event seq it resumes from always agree.
        self._read_engine = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self._wake_listeners: list[WakeListener] = []

    def session(self, *, write: bool) -> Session:
        session = Session(self._write_engine if write else self._read_engine, expire_on_commit=False)
        session.info["language"] = self.language
        session.info["database"] = self
        return session

    def add_wake_listener(self, listener: WakeListener) -> None:
        """Called with (incident_id, seq) after every commit that recorded events."""
        self._wake_listeners.append(listener)

    def remove_wake_listener(self, listener: WakeListener) -> None:
        if listener in self._wake_listeners:
            self._wake_listeners.remove(listener)

    def _woken(self, wakeups: dict[int, int]) -> None:
        for incident_id, seq in wakeups.items():
            for listener in list(self._wake_listeners):
                listener(incident_id, seq)

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        with self.session(write=True) as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self.session(write=False) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


@event.listens_for(Session, "before_commit")
def _notify_in_transaction(session: Session) -> None:
    """On PostgreSQL, NOTIFY is transactional: other instances hear of committed events only."""
    database = session.info.get("database")
    wakeups = session.info.get("wakeups")
    if wakeups and isinstance(database, Database) and not database.is_sqlite:
        for incident_id, seq in wakeups.items():
            session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": NOTIFY_CHANNEL, "payload": f"{incident_id}:{seq}"},
            )


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    database = session.info.get("database")
    wakeups = session.info.pop("wakeups", None)
    if wakeups and isinstance(database, Database):
        database._woken(wakeups)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: object) -> None:
    session.info.pop("wakeups", None)
