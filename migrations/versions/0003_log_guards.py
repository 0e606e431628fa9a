"""Guards around the log's triggers: no REPLACE, no rewritten events, counters only forward.

0001 refuses UPDATE and DELETE on `log_entry`. SQLite's `REPLACE INTO` / `INSERT OR REPLACE`
still removed a row (its REPLACE deletes the conflicting row without firing DELETE triggers
while recursive_triggers is off), and the incident's counters (`log_count`, `log_head_hash`,
`event_seq`) could be set back by a plain UPDATE, so a removed tail went unnoticed. Now:

* `log_entry`, `event` and `incident` refuse an INSERT whose key (id, or the natural key:
  incident and number, incident and request key, incident and seq) exists already: that is
  every REPLACE path on SQLite; PostgreSQL has no REPLACE, and its upserts
  (`ON CONFLICT DO UPDATE`, `MERGE`) fire the UPDATE triggers;
* `event` is append-only like `log_entry` (UPDATE, DELETE and on PostgreSQL TRUNCATE refused);
* the incident's counters only move forward, and only to an entry and an event that exist:
  `log_count` to the number of an entry whose hash is the new `log_head_hash`, `event_seq` to
  the seq of an event; a new incident starts at zero.

Whoever owns the tables can still drop these triggers; docs/security/guards.md says how to
serve as a role that does not, and `samvirke verify` catches what a table owner changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 17:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_EXISTS = "a row with this key exists already"
_COUNTERS = "incident counters only move forward, to an entry and an event that exist"

# Natural keys per table besides the id: each gets an indexed lookup of its own.
_KEYS = {
    "log_entry": (("incident_id", "number"), ("incident_id", "request_key")),
    "event": (("incident_id", "seq"),),
    "incident": (),
}

_SQLITE_BAD_COUNTERS = """
    NEW.id <> OLD.id
    OR NEW.event_seq < OLD.event_seq
    OR NEW.log_count < OLD.log_count
    OR (NEW.log_count = OLD.log_count AND NEW.log_head_hash IS NOT OLD.log_head_hash)
    OR (NEW.log_count > OLD.log_count AND NOT EXISTS (SELECT 1 FROM log_entry
        WHERE incident_id = NEW.id AND number = NEW.log_count AND hash = NEW.log_head_hash))
    OR (NEW.event_seq > OLD.event_seq AND NOT EXISTS (SELECT 1 FROM event
        WHERE incident_id = NEW.id AND seq = NEW.event_seq))
"""

_PG_COUNTERS = f"""
CREATE OR REPLACE FUNCTION samvirke_incident_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.log_count <> 0 OR NEW.event_seq <> 0 OR NEW.log_head_hash IS NOT NULL THEN
            RAISE EXCEPTION 'incident: a new incident starts with an empty log';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.id <> OLD.id
        OR NEW.event_seq < OLD.event_seq
        OR NEW.log_count < OLD.log_count
        OR (NEW.log_count = OLD.log_count AND NEW.log_head_hash IS DISTINCT FROM OLD.log_head_hash)
        OR (NEW.log_count > OLD.log_count AND NOT EXISTS (SELECT 1 FROM log_entry
            WHERE incident_id = NEW.id AND number = NEW.log_count AND hash = NEW.log_head_hash))
        OR (NEW.event_seq > OLD.event_seq AND NOT EXISTS (SELECT 1 FROM event
            WHERE incident_id = NEW.id AND seq = NEW.event_seq))
    THEN
        RAISE EXCEPTION '{_COUNTERS}';
    END IF;
    RETURN NEW;
END $$
"""


def _sqlite_no_replace(table: str) -> None:
    tests = [f"EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id)"]
    for columns in _KEYS[table]:
        match = " AND ".join(f"{c} = NEW.{c}" for c in columns)
        tests.append(f"EXISTS (SELECT 1 FROM {table} WHERE {match})")
    op.execute(
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN {' OR '.join(tests)} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {_EXISTS}'); END"
    )


def _upgrade_sqlite() -> None:
    for table in _KEYS:
        _sqlite_no_replace(table)
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER event_no_{action.lower()} BEFORE {action} ON event "
            "BEGIN SELECT RAISE(ABORT, 'event is append-only'); END"
        )
    op.execute(
        "CREATE TRIGGER incident_new_counters BEFORE INSERT ON incident "
        "WHEN NEW.log_count <> 0 OR NEW.event_seq <> 0 OR NEW.log_head_hash IS NOT NULL "
        "BEGIN SELECT RAISE(ABORT, 'incident: a new incident starts with an empty log'); END"
    )
    op.execute(
        "CREATE TRIGGER incident_counters "
        "BEFORE UPDATE OF id, log_count, log_head_hash, event_seq ON incident "
        f"WHEN {_SQLITE_BAD_COUNTERS} "
        f"BEGIN SELECT RAISE(ABORT, '{_COUNTERS}'); END"
    )


def _upgrade_postgresql() -> None:
    # The function is 0001's: it names the table in its message.
    op.execute(
        "CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event "
        "FOR EACH ROW EXECUTE FUNCTION samvirke_append_only()"
    )
    op.execute(
        "CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event "
        "FOR EACH STATEMENT EXECUTE FUNCTION samvirke_append_only()"
    )
    op.execute(_PG_COUNTERS)
    op.execute(
        "CREATE TRIGGER incident_counters BEFORE INSERT OR UPDATE ON incident "
        "FOR EACH ROW EXECUTE FUNCTION samvirke_incident_counters()"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "log_entry_no_replace",
            "event_no_replace",
            "incident_no_replace",
            "event_no_update",
            "event_no_delete",
            "incident_new_counters",
            "incident_counters",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        return
    op.execute("DROP TRIGGER IF EXISTS incident_counters ON incident")
    op.execute("DROP FUNCTION IF EXISTS samvirke_incident_counters()")
    op.execute("DROP TRIGGER IF EXISTS event_no_truncate ON event")
    op.execute("DROP TRIGGER IF EXISTS event_append_only ON event")
