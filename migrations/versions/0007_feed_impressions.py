"""Feed impressions: what each For You page served, with position, source and score.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_impressions",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reel_id", sa.BigInteger(), nullable=False),
        sa.Column("viewer_id", sa.BigInteger(), nullable=True),
        sa.Column("session_id", sa.String(length=100), nullable=True),
        sa.Column("feed_session", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reel_id"], ["reels.id"], name=op.f("fk_feed_impressions_reel_id_reels"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["viewer_id"], ["users.id"], name=op.f("fk_feed_impressions_viewer_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_impressions")),
    )
    with op.batch_alter_table("feed_impressions", schema=None) as batch_op:
        batch_op.create_index("ix_feed_impressions_reel_id_created_at", ["reel_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_impressions_viewer_id"), ["viewer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feed_impressions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_impressions_viewer_id"))
        batch_op.drop_index("ix_feed_impressions_reel_id_created_at")
    op.drop_table("feed_impressions")
