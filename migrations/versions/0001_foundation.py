"""Foundation: accounts, incidents, the append-only log and events.

The log is append-only in the database itself: triggers refuse UPDATE and DELETE on
`log_entry` (and TRUNCATE on PostgreSQL), whoever connects.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:14:13.753572
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from app.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("user_account",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column("restricted", sa.Boolean(), nullable=False),
    sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
    sa.UniqueConstraint("email", name=op.f("uq_user_account_email"))
    )
    op.create_table("api_token",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_api_token_user_id_user_account")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
    sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash"))
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table("incident",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column("exercise", sa.Boolean(), nullable=False),
    sa.Column("opened_by_id", sa.Integer(), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    sa.Column("last_activity_at", UTCDateTime(), nullable=False),
    sa.Column("log_count", sa.Integer(), nullable=False),
    sa.Column("log_head_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column("event_seq", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["opened_by_id"], ["user_account.id"], name=op.f("fk_incident_opened_by_id_user_account")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_incident"))
    )
    op.create_table("invite",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column("restricted", sa.Boolean(), nullable=False),
    sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column("created_by_id", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("accepted_at", UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"], name=op.f("fk_invite_created_by_id_user_account")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_invite")),
    sa.UniqueConstraint("token_hash", name=op.f("uq_invite_token_hash"))
    )
    op.create_table("user_session",
    sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_user_session_user_id_user_account")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session"))
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)

    op.create_table("event",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("incident_id", sa.Integer(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], name=op.f("fk_event_incident_id_incident")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    sa.UniqueConstraint("incident_id", "seq", name="uq_event_incident_seq")
    )
    op.create_table("log_entry",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("incident_id", sa.Integer(), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("classification", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column("author_id", sa.Integer(), nullable=True),
    sa.Column("author_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column("corrects", sa.Integer(), nullable=True),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("content_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(["author_id"], ["user_account.id"], name=op.f("fk_log_entry_author_id_user_account")),
    sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], name=op.f("fk_log_entry_incident_id_incident")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_log_entry")),
    sa.UniqueConstraint("incident_id", "number", name="uq_log_entry_incident_number")
    )
    _append_only("log_entry")


_MESSAGE = "log_entry is append-only: write a correction instead"


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION samvirke_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION '% is append-only: write a correction instead', TG_TABLE_NAME; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION samvirke_append_only()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION samvirke_append_only()"
    )


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS samvirke_append_only()")


def downgrade() -> None:
    _drop_append_only("log_entry")
    op.drop_table("log_entry")
    op.drop_table("event")
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))

    op.drop_table("user_session")
    op.drop_table("invite")
    op.drop_table("incident")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))

    op.drop_table("api_token")
    op.drop_table("user_account")
