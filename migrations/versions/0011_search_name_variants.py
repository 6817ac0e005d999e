"""Typo-tolerant user search by symmetric deletion (SymSpell) instead of trigram scans.

`search_name_keys` holds each account's name keys: the first letters of its username and of
each word of its display name. `search_name_variants` maps every key's variants (each of its
prefixes from TYPO_MIN_LENGTH letters on, as is and with one letter deleted) to the key. A
misspelt query makes its own variants, and the keys sharing one are found by equality on
an index, with no scan of every name alike by trigrams (see reels.domain.search). The keys
are written with the account (register, profile update); this fills them for the accounts
there are, and drops the trigram indexes (and SQLite's trigram FTS table) they replace.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from reels.domain.search import name_keys, variants_of_key

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 50_000


def upgrade() -> None:
    op.create_table(
        "search_name_keys",
        sa.Column("key", sa.String(16), nullable=False),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_table(
        "search_name_variants",
        sa.Column("variant", sa.String(16), nullable=False),
        sa.Column("key", sa.String(16), nullable=False),
    )
    _backfill()
    # Built over the rows (much faster than growing them row by row); the unique ones are what
    # a lookup reads, and what `index_names`'s inserts skip a row already there by.
    op.create_index("search_name_keys_key", "search_name_keys", ["key", "user_id"], unique=True)
    op.create_index("search_name_keys_user", "search_name_keys", ["user_id"])
    op.create_index("search_name_variants_variant", "search_name_variants", ["variant", "key"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS search_users_username_trgm")
        op.execute("DROP INDEX IF EXISTS search_users_display_name_trgm")
        op.execute("ANALYZE search_name_keys")
        op.execute("ANALYZE search_name_variants")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS search_users_{trigger}")
        op.execute("DROP TABLE IF EXISTS search_users")


def _backfill() -> None:
    """Every account's keys, then the variants of every distinct key, in batches."""
    bind = op.get_bind()
    keys_table = sa.table("search_name_keys", sa.column("key"), sa.column("user_id"))
    variants_table = sa.table("search_name_variants", sa.column("variant"), sa.column("key"))
    users = sa.table("users", sa.column("id"), sa.column("username"), sa.column("display_name"))
    distinct_keys: set[str] = set()
    after = None
    while True:
        page = sa.select(users.c.id, users.c.username, users.c.display_name).order_by(users.c.id).limit(BATCH)
        if after is not None:
            page = page.where(users.c.id > after)
        rows = bind.execute(page).all()
        if not rows:
            break
        after = rows[-1][0]
        batch = [
            {"key": key, "user_id": user_id}
            for user_id, username, display in rows
            for key in name_keys(username, display)
        ]
        bind.execute(sa.insert(keys_table), batch)
        distinct_keys.update(row["key"] for row in batch)
    batch = []
    for key in distinct_keys:
        batch += [{"variant": variant, "key": key} for variant in variants_of_key(key)]
        if len(batch) >= BATCH:
            bind.execute(sa.insert(variants_table), batch)
            batch = []
    if batch:
        bind.execute(sa.insert(variants_table), batch)


def downgrade() -> None:
    op.drop_table("search_name_variants")
    op.drop_table("search_name_keys")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX search_users_username_trgm ON users USING gin (username gin_trgm_ops)")
        op.execute("CREATE INDEX search_users_display_name_trgm ON users USING gin (lower(display_name) gin_trgm_ops)")
    else:
        add = "INSERT INTO search_users(rowid, username, display_name) VALUES (new.id, new.username, new.display_name);"
        remove = (
            "INSERT INTO search_users(search_users, rowid, username, display_name) "
            "VALUES ('delete', old.id, old.username, old.display_name);"
        )
        op.execute(
            "CREATE VIRTUAL TABLE search_users USING fts5(username, display_name, content='users', "
            "content_rowid='id', tokenize='trigram')"
        )
        op.execute(f"CREATE TRIGGER search_users_insert AFTER INSERT ON users BEGIN {add} END")
        op.execute(f"CREATE TRIGGER search_users_delete AFTER DELETE ON users BEGIN {remove} END")
        op.execute(
            f"CREATE TRIGGER search_users_update AFTER UPDATE OF username, display_name ON users BEGIN {remove} {add} END"
        )
        op.execute("INSERT INTO search_users(search_users) VALUES ('rebuild')")
