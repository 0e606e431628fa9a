"""Chain version 2: log entries get a random salt, and system entries their message.

The salt goes into the content digest, so a withheld entry's digest can no longer be matched
against guesses; the message is a system entry's meaning (message id and parameters), shown in
each reader's language. Older entries keep both null and verify as version 1
(docs/log-chain.md). Nullable columns: no table rebuild, so the append-only triggers stay as
they are.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "log_entry",
        sa.Column("salt", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "log_entry", sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("log_entry", "message")
    op.drop_column("log_entry", "salt")
