"""Search: trigram and full-text indexes (PostgreSQL) or FTS5 tables kept by triggers (SQLite),
and the sound title a creator gives at upload.

Everything made for search is named `search_*` and lives outside the models (it differs per
dialect); `reels.db.in_models` tells the model comparison to skip it.

SQLite: the FTS5 tables are external-content tables over `reels`, `audio` and `users`, kept in
sync by the triggers below. A later migration that rebuilds one of those tables on SQLite
(a batch ALTER copies it, and triggers do not follow) must create the triggers again.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # Typo-tolerant user search: names alike by trigrams above a bar (`<%`); GIN, not GiST,
    # because GIN prunes by the bar (it reads the rarest of the query's trigrams in full and
    # only probes the common ones), where a GiST nearest-neighbour scan reads far more.
    "CREATE INDEX search_users_username_trgm ON users USING gin (username gin_trgm_ops)",
    "CREATE INDEX search_users_display_name_trgm ON users USING gin (lower(display_name) gin_trgm_ops)",
    # Prefix search: a btree that LIKE 'prefix%' can use whatever the database's collation.
    "CREATE INDEX search_users_username_prefix ON users (username text_pattern_ops)",
    "CREATE INDEX search_users_display_name_prefix ON users (lower(display_name) text_pattern_ops)",
    "CREATE INDEX search_hashtags_name_prefix ON hashtags (name text_pattern_ops)",
    # Word search of captions and sound titles ('simple': no stemming, any language).
    "CREATE INDEX search_reels_caption_fts ON reels USING gin (to_tsvector('simple', caption))",
    "CREATE INDEX search_audio_title_fts ON audio USING gin (to_tsvector('simple', title))",
]

# Both dialects: the visibility rule leaves out suspended creators' reels (`creator_id NOT IN
# (suspended users)`); without this every search and feed query would read all of `users`.
BOTH = ["CREATE INDEX search_users_suspended ON users (id) WHERE suspended_at IS NOT NULL"]

# (FTS table, source table, indexed columns, tokenizer)
SQLITE_TABLES = [
    ("search_reels", "reels", ["caption"], "unicode61 remove_diacritics 2"),
    ("search_audio", "audio", ["title"], "unicode61 remove_diacritics 2"),
    ("search_users", "users", ["username", "display_name"], "trigram"),
]


def _sqlite_statements() -> list[str]:
    statements = []
    for fts, source, columns, tokenizer in SQLITE_TABLES:
        names = ", ".join(columns)
        new = ", ".join(f"new.{column}" for column in columns)
        old = ", ".join(f"old.{column}" for column in columns)
        add = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
        remove = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
        statements += [
            f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{source}', content_rowid='id', "
            f"tokenize='{tokenizer}')",
            f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {source} BEGIN {add} END",
            f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {source} BEGIN {remove} END",
            f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {source} BEGIN {remove} {add} END",
            f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
        ]
    return statements


def upgrade() -> None:
    op.add_column("uploads", sa.Column("audio_title", sa.String(200)))
    dialect = op.get_bind().dialect.name
    for statement in [*BOTH, *(POSTGRESQL if dialect == "postgresql" else _sqlite_statements())]:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS search_users_suspended")
    if op.get_bind().dialect.name == "postgresql":
        for name in ("username_trgm", "display_name_trgm", "username_prefix", "display_name_prefix"):
            op.execute(f"DROP INDEX IF EXISTS search_users_{name}")
        op.execute("DROP INDEX IF EXISTS search_hashtags_name_prefix")
        op.execute("DROP INDEX IF EXISTS search_reels_caption_fts")
        op.execute("DROP INDEX IF EXISTS search_audio_title_fts")
    else:
        for fts, _source, _columns, _tokenizer in SQLITE_TABLES:
            for trigger in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{trigger}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("audio_title")
