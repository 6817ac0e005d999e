"""Watch events in time order: an index on (created_at, id), so `reels features rebuild` reads the
history a page at a time, each page an index range, instead of sorting the whole table per page.

PostgreSQL builds it concurrently: watch_events is the largest table, and the aggregators go on
writing to it while the old version serves.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_watch_events_created_at_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(INDEX, "watch_events", ["created_at", "id"])
        return
    with op.get_context().autocommit_block():
        # A concurrent build that failed leaves an invalid index behind: build it afresh.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute(f"CREATE INDEX CONCURRENTLY {INDEX} ON watch_events (created_at, id)")


def downgrade() -> None:
    op.drop_index(INDEX, table_name="watch_events")
