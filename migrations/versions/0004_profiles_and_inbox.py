"""A profile's bio and region, and when a notification was read (the inbox).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("bio", sa.String(160), server_default="", nullable=False))
        users.add_column(sa.Column("region", sa.String(2), nullable=True))
    with op.batch_alter_table("notifications") as notifications:
        notifications.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as notifications:
        notifications.drop_column("read_at")
    with op.batch_alter_table("users") as users:
        users.drop_column("region")
        users.drop_column("bio")
