"""A faster `database_url` for the API, service and CLI tests (their conftests import it).

The shared fixture in tests/conftest.py clones the migrated template database for every
PostgreSQL test; on a small, busy machine CREATE + DROP DATABASE costs one to three seconds a
test. Here one clone is made per session (per importing folder) and emptied before each test
instead (about 50 ms): every row goes, the id
sequences restart and the append-only triggers are switched back on, so each test still starts
from a freshly migrated, empty schema. Emptying runs with `session_replication_role = replica`,
which skips the append-only triggers for this one maintenance connection (a superuser's right;
the test server's `postgres` user has it).

SQLite keeps its fresh file copy per test.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import _pg_execute, _pg_url

# Children before parents, so foreign keys never complain even without the replica role.
_TABLES = (
    "work_item",
    "job_run",
    "event",
    "log_checkpoint",
    "log_entry",
    "api_token",
    "user_session",
    "invite",
    "password_reset",
    "incident",
    "user_account",
)


def _reset_sql(name: str) -> str:
    """One round trip that empties the clone; checked once against the live schema."""
    with psycopg.connect(_pg_url(name), connect_timeout=3) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        sequences = [
            r[0]
            for r in conn.execute(
                "SELECT pg_get_serial_sequence(c.table_name, c.column_name)"
                " FROM information_schema.columns c WHERE c.table_schema = 'public'"
                " AND (c.column_default LIKE 'nextval(%' OR c.is_identity = 'YES')"
            )
            if r[0]
        ]
    unknown = tables - set(_TABLES) - {"alembic_version"}
    assert not unknown, f"tests/fast_fixtures.py does not know the tables {sorted(unknown)}"
    return "".join(
        [
            # Test data need not survive a power cut: do not wait for the disk.
            "SET LOCAL synchronous_commit = off;",
            "SET LOCAL session_replication_role = replica;",
            # Connections a previous test left behind (a server, a thread) must not block us.
            (
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid();"
            ),
            *(f'DELETE FROM "{table}";' for table in _TABLES if table in tables),
            *(f"SELECT setval('{seq}', 1, false);" for seq in sequences),
        ]
    )


_TRIGGER_STATES = (
    "SELECT tgrelid::regclass::text, tgenabled FROM pg_trigger"
    " WHERE tgrelid IN ('log_entry'::regclass, 'event'::regclass, 'incident'::regclass)"
    " AND NOT tgisinternal"
)


def _reset(name: str, sql: str) -> None:
    with psycopg.connect(_pg_url(name), connect_timeout=3) as conn:
        conn.execute(sql)  # several statements in one round trip (allowed without parameters)
        # A tamper test switched the guarding triggers off: switch them on again.
        states = list(conn.execute(_TRIGGER_STATES))
        assert len(states) >= 5, f"guarding triggers missing: {states}"
        for table in sorted({table for table, state in states if state == "D"}):
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        conn.commit()


@pytest.fixture(scope="session")
def postgres_reused(postgres_template: str) -> Iterator[tuple[str, str]]:
    name = f"samvirke_r_{uuid.uuid4().hex[:12]}"
    _pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield name, _reset_sql(name)
    _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file copy, or the session's PostgreSQL clone emptied."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "samvirke.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    name, sql = request.getfixturevalue("postgres_reused")
    _reset(name, sql)
    yield _pg_url(name)
