"""PostgreSQL: the serving role's rights, when the tables belong to another (owner) role.

A role that owns a table may switch its triggers off, drop them or replace their function,
so the append-only guards bind only a role that owns nothing. Migrations run as the owner
(`SAMVIRKE_MIGRATION_DATABASE_URL`); the server connects as the serving role
(`SAMVIRKE_DATABASE_URL`), which gets, on every table in the schema:

* append-only tables (those guarded by `samvirke_append_only()`: the log, the events): SELECT
  and INSERT;
* `incident`: SELECT, INSERT and UPDATE of the columns that change (not its id, opener or
  opening time); its counters are guarded by a trigger;
* `alembic_version`: SELECT (the server checks the schema, it never changes it);
* every other table (accounts, sessions, tokens, invites, the worker's queue: state, not
  evidence): SELECT, INSERT, UPDATE, DELETE;
* its sequences: USAGE and SELECT.

Never TRUNCATE, REFERENCES or TRIGGER, and no ownership. The grants are computed from the live
schema and applied after every migration (`app.migrate.upgrade_for`), so a new table is
covered at once; `samvirke grants` prints them for review. docs/security/guards.md has the
SQL that creates the two roles.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

INCIDENT_FIXED = frozenset({"id", "opened_by_id", "opened_at"})
READ_ONLY = frozenset({"alembic_version"})

_APPEND_ONLY_TABLES = text(
    "SELECT DISTINCT c.relname FROM pg_trigger t"
    " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE p.proname = 'samvirke_append_only' AND n.nspname = current_schema()"
)
_TABLES = text(
    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
)
_INCIDENT_COLUMNS = text(
    "SELECT column_name FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = 'incident' ORDER BY ordinal_position"
)


def _quote(connection: Connection, name: str) -> str:
    return str(connection.execute(text("SELECT quote_ident(:n)"), {"n": name}).scalar_one())


def grant_statements(connection: Connection, role: str) -> list[str]:
    """The SQL that gives `role` exactly its rights on the current schema (idempotent)."""
    who = _quote(connection, role)
    schema = _quote(connection, str(connection.execute(text("SELECT current_schema()")).scalar()))
    append_only = set(connection.execute(_APPEND_ONLY_TABLES).scalars())
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}",
        f"REVOKE CREATE ON SCHEMA {schema} FROM {who}",
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
    ]
    for table in connection.execute(_TABLES).scalars():
        name = f"{schema}.{_quote(connection, table)}"
        if table in READ_ONLY:
            rights = "SELECT"
        elif table in append_only:
            rights = "SELECT, INSERT"
        elif table == "incident":
            columns = [
                _quote(connection, c)
                for c in connection.execute(_INCIDENT_COLUMNS).scalars()
                if c not in INCIDENT_FIXED
            ]
            rights = f"SELECT, INSERT, UPDATE ({', '.join(columns)})"
        else:
            rights = "SELECT, INSERT, UPDATE, DELETE"
        statements.append(f"GRANT {rights} ON {name} TO {who}")
    return statements


def grant_serving_rights(connection: Connection, role: str) -> None:
    """Apply `grant_statements` as the owner, in the caller's transaction."""
    for statement in grant_statements(connection, role):
        connection.execute(text(statement))
