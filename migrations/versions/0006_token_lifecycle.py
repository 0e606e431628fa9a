"""API tokens get a life cycle: when they were last used, and an optional expiry.

Two nullable columns: no table rebuild, existing tokens keep working (no expiry, never seen).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_token", sa.Column("last_used_at", UTCDateTime(), nullable=True))
    op.add_column("api_token", sa.Column("expires_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("last_used_at")
