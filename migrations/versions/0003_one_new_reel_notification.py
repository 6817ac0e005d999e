"""One NEW_REEL notification per follower and reel, enforced by a partial unique index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_REEL_ONLY = "kind = 'NEW_REEL'"


def upgrade() -> None:
    # Two overlapping fan-out runs could tell a follower twice; keep the first of each.
    op.execute(
        "DELETE FROM notifications WHERE kind = 'NEW_REEL' AND id NOT IN "
        "(SELECT MIN(id) FROM notifications WHERE kind = 'NEW_REEL' GROUP BY user_id, reel_id)"
    )
    op.create_index(
        "uq_notifications_new_reel",
        "notifications",
        ["user_id", "reel_id"],
        unique=True,
        postgresql_where=sa.text(NEW_REEL_ONLY),
        sqlite_where=sa.text(NEW_REEL_ONLY),
    )


def downgrade() -> None:
    op.drop_index("uq_notifications_new_reel", table_name="notifications")
