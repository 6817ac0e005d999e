"""The audit log records automated checks too; flagged engagement left out of counts; the
analytics tables and where each scheduled job got to.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _day_table(name: str, key: sa.Column, *counts: str) -> None:
    op.create_table(
        name,
        sa.Column("day", sa.Date(), nullable=False),
        key,
        *(sa.Column(count, sa.BigInteger(), nullable=False) for count in counts),
        sa.PrimaryKeyConstraint("day", key.name, name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    with op.batch_alter_table("moderation_log") as batch:
        batch.alter_column("moderator_id", existing_type=sa.BigInteger(), nullable=True)
        batch.add_column(sa.Column("check_name", sa.String(length=40), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("engagement_flagged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("engagement_flag_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("engagement_cleared_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("reel_counts") as batch:
        for column in ("excluded_likes", "excluded_views", "excluded_comments"):
            batch.add_column(sa.Column(column, sa.BigInteger(), server_default="0", nullable=False))
    op.create_index("ix_likes_created_at", "likes", ["created_at"])

    op.create_table(
        "analytics_days",
        sa.Column("day", sa.Date(), nullable=False),
        *(
            sa.Column(count, sa.BigInteger(), nullable=False)
            for count in ("new_users", "new_reels", "views", "watch_ms", "likes", "comments", "reports")
        ),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_analytics_days")),
    )
    _day_table(
        "analytics_creator_days", sa.Column("creator_id", sa.BigInteger(), autoincrement=False), "watch_ms", "views"
    )
    _day_table(
        "analytics_hashtag_days", sa.Column("hashtag_id", sa.BigInteger(), autoincrement=False), "reels", "views"
    )
    _day_table("analytics_sound_days", sa.Column("audio_id", sa.BigInteger(), autoincrement=False), "reels", "views")
    _day_table("analytics_report_days", sa.Column("reason", sa.String(length=20)), "reports", "reels")
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("done_through", sa.Date(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_runs")),
    )


def downgrade() -> None:
    for table in (
        "job_runs",
        "analytics_report_days",
        "analytics_sound_days",
        "analytics_hashtag_days",
        "analytics_creator_days",
        "analytics_days",
    ):
        op.drop_table(table)
    op.drop_index("ix_likes_created_at", table_name="likes")
    with op.batch_alter_table("reel_counts") as batch:
        for column in ("excluded_likes", "excluded_views", "excluded_comments"):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("engagement_cleared_at")
        batch.drop_column("engagement_flag_reason")
        batch.drop_column("engagement_flagged_at")
    with op.batch_alter_table("moderation_log") as batch:
        batch.drop_column("check_name")
        batch.alter_column("moderator_id", existing_type=sa.BigInteger(), nullable=False)
