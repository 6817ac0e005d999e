"""Search and look-up by name: users (prefix and typo-tolerant), hashtags (prefix), sounds (title
words) and reels (caption words), each ranked by how well it matches and how popular it is.

What search may offer follows the visibility rule (reels.domain.visibility): suspended accounts
never; a reel only when it is READY and listed to the viewer (the caller drops blocked creators,
either way, with `is_listed`); a hashtag or a sound only when one of its reels is listed to the
viewer, so one used only on private, followers-only, held, unfinished or blocked reels is not
offered to anyone else.

The indexes differ per dialect (migration 0008): on PostgreSQL `pg_trgm` (nearest usernames and
display names by trigram distance) and `to_tsvector('simple', ...)` GIN indexes for words; on
SQLite FTS5 tables kept in sync by triggers (trigram-tokenized for users). Either way SQL finds
a bounded set of candidates and the ranking here looks at no more than those.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import ColumnElement, Select, func, literal, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from reels.domain.models import Audio, Hashtag, Reel, ReelHashtag, ReelStatus, User
from reels.domain.popularity import popularity, with_counts
from reels.domain.visibility import listed_to
from reels.ports.graph import FollowGraph

QUERY_MAX = 100
HASHTAG_MAX = 100
# Rows SQL hands the ranking per kind of match: enough to rank, bounded whatever the data.
CANDIDATES = 50
# Caption (title) matches ranked by popularity (use) at most: a common word's are not all sorted.
MATCHES_RANKED = 300
# How alike (rapidfuzz's 0-100 ratio) a name must be to the query to count as a misspelling of it.
TYPO_MIN_RATIO = 75
TYPO_MIN_LENGTH = 3
# PostgreSQL's trigram bars for those candidates (pg_trgm's similarity and word similarity,
# 0-1): high enough that the index reads few names, low enough to keep most of what the ratio
# above accepts (bench/search.py measures both).
TRIGRAM_MIN_SIMILARITY = 0.5
TRIGRAM_MIN_WORD_SIMILARITY = 0.35
# The match of a name the query begins (see _name_match): a misspelling always ranks below it.
PREFIX_MATCH = 0.9
MAX_WORDS = 8
WORD = re.compile(r"\w+")


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def normalize_hashtag(name: str) -> str:
    return name.strip().lstrip("#").lower()


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _hashtag_has_listed_reel(viewer: User | None) -> ColumnElement[bool]:
    return (
        select(ReelHashtag.reel_id)
        .join(Reel, Reel.id == ReelHashtag.reel_id)
        .where(ReelHashtag.hashtag_id == Hashtag.id, listed_to(viewer, follows_creator=False))
        .exists()
    )


def _audio_has_listed_reel(viewer: User | None) -> ColumnElement[bool]:
    return select(Reel.id).where(Reel.audio_id == Audio.id, listed_to(viewer, follows_creator=False)).exists()


async def hashtag_named(sessions: async_sessionmaker[AsyncSession], name: str) -> Hashtag | None:
    """The hashtag of that name (the client knows it): its counts and reels still follow the rule."""
    normalized = normalize_hashtag(name)
    if not normalized or len(normalized) > HASHTAG_MAX:
        return None
    async with sessions() as session:
        return await session.scalar(select(Hashtag).where(Hashtag.name == normalized))


def _name_match(query: str, user: User) -> float:
    """How well a user matches: 1 for the username itself, 0.9 for a prefix of the username or
    of the display name or one of its words, less for a misspelling (0 below the typo bar)."""
    names = [user.username, *(name.lower() for name in [user.display_name, *user.display_name.split()])]
    if query == user.username:
        return 1.0
    if any(name.startswith(query) for name in names):
        return PREFIX_MATCH
    if len(query) < TYPO_MIN_LENGTH:
        return 0.0
    # The whole name, or its start as long as the query: a typo in what was typed so far.
    ratio = max(max(fuzz.ratio(query, name), fuzz.ratio(query, name[: len(query)])) for name in names)
    return 0.8 * ratio / 100 if ratio >= TYPO_MIN_RATIO else 0.0


def _fts_terms(words: Sequence[str], *, sqlite: bool) -> str:
    """Every word, the last also as a prefix (the user may still be typing it)."""
    if sqlite:
        return " ".join(f'"{word}"' for word in words[:-1]) + f' "{words[-1]}"*'
    return " & ".join([*(f"'{word}'" for word in words[:-1]), f"'{words[-1]}':*"])


def _words(query: str) -> list[str]:
    return WORD.findall(query.lower()[:QUERY_MAX])[:MAX_WORDS]


def _matching_words(
    words: Sequence[str],
    column: InstrumentedAttribute[str],
    row_id: InstrumentedAttribute[int],
    fts: str,
    *,
    sqlite: bool,
) -> ColumnElement[bool]:
    """`column` (a caption, a title) holding every word, on the dialect's full-text index; on
    SQLite `fts` is the FTS5 table over the column, `row_id` its rows' id."""
    terms = _fts_terms(words, sqlite=sqlite)
    if sqlite:
        hits: Select[Any] = select(literal_column("rowid")).select_from(text(fts)).where(text(f"{fts} MATCH :terms"))
        return row_id.in_(hits.params(terms=terms))
    return func.to_tsvector("simple", column).op("@@")(func.to_tsquery("simple", terms))


async def users(sessions: async_sessionmaker[AsyncSession], graph: FollowGraph, query: str, first: int) -> list[User]:
    """Accounts not suspended whose username (an `@` aside) or display name starts with the
    query or is a misspelling of it; best match first, then the most followed."""
    typed = query.strip().lower()[:QUERY_MAX].lstrip("@")
    if not typed:
        return []
    async with sessions() as session:
        found: dict[int, User] = {}
        for statement in _prefix_candidates(typed):
            found.update((user.id, user) for user in (await session.scalars(statement.limit(CANDIDATES))).all())
        # A misspelling ranks below every prefix match: look for them only while the page has room,
        # the cheaper lookups first, each only while the ones before found no misspelling.
        if sum(_name_match(typed, user) >= PREFIX_MATCH for user in found.values()) < first:
            for statement in await _similar_candidates(session, typed):
                if any(0 < _name_match(typed, user) < PREFIX_MATCH for user in found.values()):
                    break
                found.update((user.id, user) for user in (await session.scalars(statement.limit(CANDIDATES))).all())
    matches = {user_id: match for user_id, user in found.items() if (match := _name_match(typed, user)) > 0}
    followers = await graph.follow_counts(list(matches))

    def score(user_id: int) -> float:
        return matches[user_id] + 0.05 * math.log10(1 + followers.get(user_id, (0, 0))[0])

    return [found[user_id] for user_id in sorted(matches, key=score, reverse=True)[:first]]


def _prefix_candidates(typed: str) -> list[Select[User]]:
    """Usernames and display names starting with the query, each off a prefix index (in its
    order, so no sort of every match)."""
    active = User.suspended_at.is_(None)
    prefix = _like_prefix(typed)
    return [
        select(User).where(active, User.username.like(prefix, escape="\\")),
        select(User).where(active, func.lower(User.display_name).like(prefix, escape="\\")),
    ]


async def _similar_candidates(session: AsyncSession, typed: str) -> list[Select[User]]:
    """Names that may be misspellings of the query (the ranking checks them), in the order to
    try them."""
    if len(typed) < TYPO_MIN_LENGTH:
        return []
    active = User.suspended_at.is_(None)
    if _is_postgresql(session):
        # The GIN trigram indexes prune by these bars (set for this transaction only): the
        # higher, the fewer names they read. First whole names as alike as a typo makes them
        # (`%`), then names with a stretch alike (`<%`: a misspelt start of a longer name).
        await session.execute(
            select(
                func.set_config("pg_trgm.similarity_threshold", str(TRIGRAM_MIN_SIMILARITY), True),
                func.set_config("pg_trgm.word_similarity_threshold", str(TRIGRAM_MIN_WORD_SIMILARITY), True),
            )
        )
        names = (User.username, func.lower(User.display_name))
        return [
            *(
                select(User).where(active, name.op("%")(typed)).order_by(func.similarity(name, typed).desc(), User.id)
                for name in names
            ),
            *(
                select(User)
                .where(active, literal(typed).op("<%")(name))
                .order_by(func.word_similarity(typed, name).desc(), User.id)
                for name in names
            ),
        ]
    # SQLite: names sharing a trigram with the query, most in common first, and names that
    # begin as the query does (a short name misspelt may share no trigram at all).
    statements = [select(User).where(active, User.username.like(_like_prefix(typed[:2]), escape="\\"))]
    trigrams = " OR ".join(f'"{typed[i : i + 3]}"' for i in range(len(typed) - 2) if '"' not in typed[i : i + 3])
    if trigrams:
        shared: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("search_users"))
            .where(text("search_users MATCH :trigrams"))
            .order_by(text("rank"))
            .limit(CANDIDATES)
            .params(trigrams=trigrams)
        )
        statements.append(select(User).where(active, User.id.in_(shared)))
    return statements


async def hashtags(
    sessions: async_sessionmaker[AsyncSession], query: str, first: int, viewer: User | None
) -> list[Hashtag]:
    """Hashtags starting with `query` (a `#` aside): the exact name first, then the most used."""
    typed = normalize_hashtag(query)[:QUERY_MAX]
    if not typed:
        return []
    statement = (
        select(Hashtag)
        .where(Hashtag.name.like(_like_prefix(typed), escape="\\"), _hashtag_has_listed_reel(viewer))
        .order_by((Hashtag.name == typed).desc(), Hashtag.reel_count.desc(), Hashtag.name)
        .limit(first)
    )
    async with sessions() as session:
        return list((await session.scalars(statement)).all())


async def audio(sessions: async_sessionmaker[AsyncSession], query: str, first: int, viewer: User | None) -> list[Audio]:
    """Sounds whose title holds every word of the query (the last also as a prefix): of up to
    MATCHES_RANKED matches, the most used first."""
    words = _words(query)
    if not words:
        return []
    async with sessions() as session:
        sqlite = not _is_postgresql(session)
        # As for captions: a common word's matches are bounded before the sort (and the check
        # for a listed reel runs on those only, off the index on reels.audio_id).
        matching = (
            select(Audio.id)
            .where(_matching_words(words, Audio.title, Audio.id, "search_audio", sqlite=sqlite))
            .limit(MATCHES_RANKED)
        )
        statement = (
            select(Audio)
            .where(Audio.id.in_(matching), _audio_has_listed_reel(viewer))
            .order_by(Audio.use_count.desc(), Audio.id.desc())
            .limit(first)
        )
        return list((await session.scalars(statement)).all())


async def reels(sessions: async_sessionmaker[AsyncSession], query: str, first: int, viewer: User | None) -> list[Reel]:
    """READY reels listed to the viewer whose caption holds every word of the query (the last
    also as a prefix): of the most popular of up to MATCHES_RANKED matches, those with more
    whole-word hits first. Up to `first` + CANDIDATES rows, so that the caller can drop blocked
    creators' reels."""
    words = _words(query)
    if not words:
        return []
    async with sessions() as session:
        sqlite = not _is_postgresql(session)
        # Common words are in a large share of all captions: rank a bounded set of matches
        # (any, as the index yields them) rather than sort every one by popularity.
        matching = (
            select(Reel.id)
            .where(
                _matching_words(words, Reel.caption, Reel.id, "search_reels", sqlite=sqlite),
                Reel.status == ReelStatus.READY,
                listed_to(viewer, follows_creator=False),
            )
            .limit(MATCHES_RANKED)
        )
        rows = (
            await session.execute(
                with_counts(select(Reel, popularity()))
                .where(Reel.id.in_(matching))
                .order_by(popularity().desc(), Reel.id.desc())
                .limit(first + CANDIDATES)
            )
        ).all()

    def score(row: tuple[Reel, int]) -> float:
        caption_words = set(WORD.findall(row[0].caption.lower()))
        whole = sum(word in caption_words for word in words) / len(words)
        return whole + 0.1 * math.log10(1 + row[1])

    return [reel for reel, _ in sorted(rows, key=score, reverse=True)]
