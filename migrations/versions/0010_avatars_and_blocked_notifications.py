"""A profile's avatar: the object-store key of the frame taken from a reel, and that reel. And a block
deletes the notifications between the two users: those of blocks made before are deleted here
(blocks kept in SQL; a Neo4j follow graph's blocks are not seen by migrations).

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("avatar_key", sa.String(200), nullable=True))
        users.add_column(sa.Column("avatar_reel_id", sa.BigInteger(), nullable=True))
    op.execute(
        "DELETE FROM notifications WHERE EXISTS (SELECT 1 FROM blocks b WHERE "
        "(b.blocker_id = notifications.user_id AND b.blocked_id = notifications.actor_id) OR "
        "(b.blocked_id = notifications.user_id AND b.blocker_id = notifications.actor_id))"
    )


def downgrade() -> None:  # the deleted notifications stay deleted
    with op.batch_alter_table("users") as users:
        users.drop_column("avatar_reel_id")
        users.drop_column("avatar_key")
