"""Signed checkpoints of the decision logs: an append-only `log_checkpoint` table.

Each row is the server's Ed25519 signature over a log's head (app/log/checkpoints.py). The
table is guarded like `log_entry`: triggers refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL), and on SQLite an INSERT whose key exists, since `REPLACE` / `INSERT OR REPLACE`
would otherwise delete the old row without firing the DELETE trigger. The incident row gets
where its last checkpoint is, so an append knows without a query whether the next one is due.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from app.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MESSAGE = "log_checkpoint is append-only"


def upgrade() -> None:
    op.create_table(
        "log_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("key_fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_log_checkpoint_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_checkpoint")),
        sa.UniqueConstraint("incident_id", "number", name="uq_log_checkpoint_incident_number"),
    )
    op.add_column(
        "incident",
        sa.Column("checkpoint_number", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("incident", sa.Column("checkpoint_at", UTCDateTime(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER log_checkpoint_no_{action.lower()} BEFORE {action} "
                f"ON log_checkpoint BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )
        op.execute(
            "CREATE TRIGGER log_checkpoint_no_replace BEFORE INSERT ON log_checkpoint "
            "WHEN EXISTS (SELECT 1 FROM log_checkpoint WHERE id = NEW.id "
            "OR (incident_id = NEW.incident_id AND number = NEW.number)) "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
        return
    # samvirke_append_only() comes with revision 0001 (log_entry's guard).
    op.execute(
        "CREATE TRIGGER log_checkpoint_append_only BEFORE UPDATE OR DELETE ON log_checkpoint "
        "FOR EACH ROW EXECUTE FUNCTION samvirke_append_only()"
    )
    op.execute(
        "CREATE TRIGGER log_checkpoint_no_truncate BEFORE TRUNCATE ON log_checkpoint "
        "FOR EACH STATEMENT EXECUTE FUNCTION samvirke_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("no_update", "no_delete", "no_replace"):
            op.execute(f"DROP TRIGGER IF EXISTS log_checkpoint_{name}")
    op.drop_table("log_checkpoint")  # its PostgreSQL triggers go with it
    with op.batch_alter_table("incident") as batch_op:
        batch_op.drop_column("checkpoint_at")
        batch_op.drop_column("checkpoint_number")
