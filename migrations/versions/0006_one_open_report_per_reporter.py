"""One open report per reporter and reel, enforced by a partial unique index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_ONLY = "status = 'OPEN'"


def upgrade() -> None:
    # Repeats filed before the rule: the first of each stays open, the others are dismissed.
    op.execute(
        "UPDATE reports SET status = 'DISMISSED', resolution_note = 'a repeat of an open report' "
        "WHERE status = 'OPEN' AND id NOT IN "
        "(SELECT MIN(id) FROM reports WHERE status = 'OPEN' GROUP BY reel_id, reporter_id)"
    )
    op.create_index(
        "uq_reports_open_reporter_reel",
        "reports",
        ["reel_id", "reporter_id"],
        unique=True,
        postgresql_where=sa.text(OPEN_ONLY),
        sqlite_where=sa.text(OPEN_ONLY),
    )


def downgrade() -> None:
    op.drop_index("uq_reports_open_reporter_reel", table_name="reports")
