"""Log entries remember the key of the request that wrote them, so a retry writes nothing twice.

A client that did not hear back (a dropped connection, a 503) sends the same entry again with
the same key; the unique index per incident lets the service find it and answer with it.
A nullable column and an index: no table rebuild, so the append-only triggers stay as they are.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "log_entry",
        sa.Column("request_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.create_index(
        "uq_log_entry_incident_request_key",
        "log_entry",
        ["incident_id", "request_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_log_entry_incident_request_key", table_name="log_entry")
    op.drop_column("log_entry", "request_key")
