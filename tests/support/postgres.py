"""The test PostgreSQL server: databases made from a migrated template, and one reused clone.

Cloning the template (CREATE DATABASE … TEMPLATE) for every test costs one to three seconds on
a small, busy machine. So a session makes one clone and empties it before each test instead
(about 50 ms): every row goes, the id sequences restart and the guarding triggers are switched
back on, so each test still starts from a freshly migrated, empty schema. A test that dropped a
trigger (as a table owner could) gets a new clone, since only the migrations make them.
Emptying runs with `session_replication_role = replica`, which skips the triggers (foreign keys
included) for this one maintenance connection: a superuser's right, which the test server's
`postgres` user has.
"""

from __future__ import annotations

import os
import uuid

import psycopg

POSTGRES_URL = os.environ.get(
    "SAMVIRKE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

_TRIGGERS = (
    "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal"
)


def admin_url() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")


def url_of(name: str) -> str:
    """The URL of database `name` on the test server."""
    return f"{admin_url().rsplit('/', 1)[0]}/{name}"


def execute(sql: str) -> None:
    """One statement on the server's maintenance database, outside a transaction."""
    with psycopg.connect(admin_url(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def create_database(prefix: str, template: str | None = None) -> str:
    """A new database with a unique name (a copy of `template` if given); returns the name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def drop_database(name: str) -> None:
    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ReusedClone:
    """One clone of the template for a whole session, emptied before each test by `reset`."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.name = create_database("samvirke_r", template)
        self._empty_sql, self._triggers = self._read_schema()

    @property
    def url(self) -> str:
        return url_of(self.name)

    def _read_schema(self) -> tuple[str, frozenset[tuple[str, str]]]:
        """The statements that empty this schema, and its triggers, read once from the clone."""
        with psycopg.connect(self.url, connect_timeout=3) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version' ORDER BY tablename"
                )
            ]
            sequences = [
                r[0]
                for r in conn.execute(
                    "SELECT pg_get_serial_sequence(c.table_name, c.column_name)"
                    " FROM information_schema.columns c WHERE c.table_schema = 'public'"
                    " AND (c.column_default LIKE 'nextval(%' OR c.is_identity = 'YES')"
                )
                if r[0]
            ]
            triggers = frozenset((r[0], r[1]) for r in conn.execute(_TRIGGERS))
        empty = "".join(
            [
                # Test data need not survive a power cut: do not wait for the disk.
                "SET LOCAL synchronous_commit = off;",
                "SET LOCAL session_replication_role = replica;",
                # Connections a previous test left behind (a server, a thread) must not block us.
                (
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid();"
                ),
                *(f'DELETE FROM "{table}";' for table in tables),
                *(f"SELECT setval('{seq}', 1, false);" for seq in sequences),
            ]
        )
        return empty, triggers

    def reset(self) -> None:
        """Empty the clone; a new clone if a test dropped one of the migrations' triggers."""
        with psycopg.connect(self.url, connect_timeout=3) as conn:
            conn.execute(self._empty_sql)  # several statements in one round trip
            states = {(table, name): enabled for table, name, enabled in conn.execute(_TRIGGERS)}
            if set(states) == self._triggers:
                # A tamper test switched guarding triggers off: switch them on again.
                for table in sorted(
                    {table for (table, _), state in states.items() if state == "D"}
                ):
                    conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
                conn.commit()
                return
        drop_database(self.name)
        self.name = create_database("samvirke_r", self.template)
