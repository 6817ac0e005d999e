"""Search and look-up by name: users (prefix and typo-tolerant), hashtags (prefix), sounds (title
words) and reels (caption words), each ranked by how well it matches and how popular it is.

What search may offer follows the visibility rule (reels.domain.visibility): suspended accounts
never; a reel only when it is READY and listed to the viewer (the caller drops blocked creators,
either way, with `is_listed`); a hashtag or a sound only when one of its reels is listed to the
viewer, so one used only on private, followers-only, held, unfinished or blocked reels is not
offered to anyone else.

Names are found by prefix off btree indexes, and misspelt names by symmetric deletion
(SymSpell): two plain tables (migration 0011), the same on both dialects, written with the
account (`index_names`). Words of captions and titles are found off the dialect's full-text
index (migration 0008): `to_tsvector('simple', ...)` GIN on PostgreSQL, FTS5 tables kept in sync
by triggers on SQLite. Either way SQL finds a bounded set of candidates and the ranking here
looks at no more than those.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import ColumnElement, Select, column, delete, func, literal_column, select, table, text, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from reels.domain import follow_counts
from reels.domain.models import Audio, Hashtag, Reel, ReelHashtag, ReelStatus, User
from reels.domain.popularity import popularity, with_counts
from reels.domain.visibility import listed_to
from reels.ports.graph import FollowGraph
from reels.ports.kv import KeyValue

QUERY_MAX = 100
HASHTAG_MAX = 100
# Rows SQL hands the ranking per kind of match: enough to rank, bounded whatever the data.
CANDIDATES = 50
# Caption (title) matches ranked by popularity (use) at most: a common word's are not all sorted.
MATCHES_RANKED = 300
# How alike (rapidfuzz's 0-100 ratio) a name must be to the query to count as a misspelling of it.
TYPO_MIN_RATIO = 75
TYPO_MIN_LENGTH = 3
# The letters of a name (its start) that misspellings are looked up by: one slip in these finds
# it (SymSpell's prefix length; longer keys mean more variants to store for no better recall).
KEY_LENGTH = 7
# Accounts sharing a variant with a misspelt query, handed to the ranking.
TYPO_CANDIDATES = 100
# The match of a name the query begins (see _name_match): a misspelling always ranks below it.
PREFIX_MATCH = 0.9
MAX_WORDS = 8
WORD = re.compile(r"\w+")
# Search's own tables (migration 0011): made by the migration, not part of the models.
NAME_KEYS = table("search_name_keys", column("key"), column("user_id"))
NAME_VARIANTS = table("search_name_variants", column("variant"), column("key"))


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


def _fts_terms(words: Sequence[str], *, sqlite: bool, last_as_prefix: bool) -> str:
    """Every word, the last one also as a prefix (the user may still be typing it) if asked."""
    star = "*" if last_as_prefix else ""
    if sqlite:
        return " ".join(f'"{word}"' for word in words[:-1]) + f' "{words[-1]}"{star}'
    return " & ".join([*(f"'{word}'" for word in words[:-1]), f"'{words[-1]}'{':*' if star else ''}"])


def _words(query: str) -> list[str]:
    return WORD.findall(query.lower()[:QUERY_MAX])[:MAX_WORDS]


def _matching_words(
    words: Sequence[str],
    column: InstrumentedAttribute[str],
    row_id: InstrumentedAttribute[int],
    fts: str,
    *,
    sqlite: bool,
    last_as_prefix: bool,
) -> ColumnElement[bool]:
    """`column` (a caption, a title) holding every word, on the dialect's full-text index; on
    SQLite `fts` is the FTS5 table over the column, `row_id` its rows' id."""
    terms = _fts_terms(words, sqlite=sqlite, last_as_prefix=last_as_prefix)
    if sqlite:
        hits: Select[Any] = select(literal_column("rowid")).select_from(text(fts)).where(text(f"{fts} MATCH :terms"))
        return row_id.in_(hits.params(terms=terms))
    return func.to_tsvector("simple", column).op("@@")(func.to_tsquery("simple", terms))


async def users(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, graph: FollowGraph, query: str, first: int
) -> list[User]:
    """Accounts not suspended whose username (an `@` aside) or display name starts with the
    query or is a misspelling of it; best match first, then the most followed."""
    typed = query.strip().lower()[:QUERY_MAX].lstrip("@")
    if not typed:
        return []
    active = User.suspended_at.is_(None)
    prefix = _like_prefix(typed)
    # In one statement, as the ranking puts every prefix match above every misspelling anyway:
    # usernames starting with the query off a prefix index (rows as it yields them, so no sort
    # of every match); names with a word starting with it, and names it may be a misspelling of,
    # off the name keys; display names starting with a query longer than a key off their own
    # prefix index (for a short one PostgreSQL may scan the table looking for a common start).
    lookups = [select(User.id).where(active, User.username.like(prefix, escape="\\")).limit(CANDIDATES)]
    if len(typed) >= TYPO_MIN_LENGTH:
        key = typed[:KEY_LENGTH]
        lookups += [
            _keys_with_a_variant([key], CANDIDATES),
            _keys_with_a_variant(misspelling_variants(typed), TYPO_CANDIDATES),
        ]
    if not TYPO_MIN_LENGTH <= len(typed) <= KEY_LENGTH:
        lookups.append(
            select(User.id).where(active, func.lower(User.display_name).like(prefix, escape="\\")).limit(CANDIDATES)
        )
    candidates = union_all(*(select(lookup.subquery().c.id) for lookup in lookups))
    statement = select(User).where(active, User.id.in_(candidates))
    async with sessions() as session:
        found = {user.id: user for user in (await session.scalars(statement)).all()}
    matches = {user_id: match for user_id, user in found.items() if (match := _name_match(typed, user)) > 0}
    # Follower counts order the matches: one match (a misspelt full name, often) needs none.
    followers = await follow_counts.read(kv, graph, list(matches)) if len(matches) > 1 else {}

    def score(user_id: int) -> float:
        return matches[user_id] + 0.05 * math.log10(1 + followers.get(user_id, follow_counts.NO_FOLLOWS)[0])

    return [found[user_id] for user_id in sorted(matches, key=score, reverse=True)[:first]]


def _deletions(word: str) -> set[str]:
    """The word and each way of deleting one of its letters."""
    return {word} | {word[:at] + word[at + 1 :] for at in range(len(word))}


def misspelling_variants(typed: str) -> set[str]:
    """The variants a query's start is looked up by: a key one slip from it has one of them."""
    return _deletions(typed[:KEY_LENGTH])


def name_keys(username: str, display_name: str) -> set[str]:
    """What an account is found by when the query is misspelt: the first KEY_LENGTH letters of
    its username and of each word of its display name (migration 0011 fills the table with
    these for the accounts there were: changing them needs a migration that refills it)."""
    terms = [username, *WORD.findall(display_name.lower())]
    return {term[:KEY_LENGTH] for term in terms if len(term) >= TYPO_MIN_LENGTH}


def variants_of_key(key: str) -> set[str]:
    """A key's variants: each of its prefixes from TYPO_MIN_LENGTH letters on (the query may be
    the start of a name still being typed), as is and with one letter deleted. A query one slip
    (a wrong, missing, extra or swapped letter) from a prefix shares a variant with it."""
    return {variant for length in range(TYPO_MIN_LENGTH, len(key) + 1) for variant in _deletions(key[:length])}


def _keys_with_a_variant(variants: Iterable[str], limit: int) -> Select[int]:
    """Up to `limit` accounts with a name key one of whose variants is given: a word starting
    with a key's prefix, or (symmetric deletion, as SymSpell does it) the deletions of a
    query's start, which share one with every key one slip away. Equality lookups on two
    indexes however many names there are; the ranking (`_name_match`) judges what they find."""
    return (
        select(NAME_KEYS.c.user_id.label("id"))
        .join(NAME_VARIANTS, NAME_VARIANTS.c.key == NAME_KEYS.c.key)
        .where(NAME_VARIANTS.c.variant.in_(sorted(variants)))
        .limit(limit)
    )


async def index_names(session: AsyncSession, user: User) -> None:
    """Write the account's name keys (after its username or display name was set), and the
    variants of any key new to the table. The variants of keys no account has any more stay:
    they lead to no account, and the next account with that key needs them again."""
    keys = name_keys(user.username, user.display_name)
    await session.execute(delete(NAME_KEYS).where(NAME_KEYS.c.user_id == user.id))
    if not keys:
        return
    insert = postgresql.insert if _is_postgresql(session) else sqlite.insert
    await session.execute(insert(NAME_KEYS), [{"key": key, "user_id": user.id} for key in sorted(keys)])
    variants = [{"variant": variant, "key": key} for key in sorted(keys) for variant in sorted(variants_of_key(key))]
    await session.execute(insert(NAME_VARIANTS).on_conflict_do_nothing(), variants)


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


# Whole words are looked up first, and the last word as a prefix only when they find too few:
# every whole-word match ranks above a prefix match, and a prefix of a common word costs
# PostgreSQL's GIN every posting of every word it begins (no skipping ahead as for whole words).
WHOLE_WORDS_FIRST = (False, True)


async def audio(sessions: async_sessionmaker[AsyncSession], query: str, first: int, viewer: User | None) -> list[Audio]:
    """Sounds whose title holds every word of the query (the last also as a prefix): of up to
    MATCHES_RANKED matches, whole words first, the most used first."""
    words = _words(query)
    if not words:
        return []
    found: list[Audio] = []
    async with sessions() as session:
        sqlite = not _is_postgresql(session)
        for last_as_prefix in WHOLE_WORDS_FIRST:
            # As for captions: a common word's matches are bounded before the sort (and the
            # check for a listed reel runs on those only, off the index on reels.audio_id).
            title_has = _matching_words(
                words, Audio.title, Audio.id, "search_audio", sqlite=sqlite, last_as_prefix=last_as_prefix
            )
            statement = (
                select(Audio)
                .where(
                    Audio.id.in_(select(Audio.id).where(title_has).limit(MATCHES_RANKED)),
                    _audio_has_listed_reel(viewer),
                )
                .order_by(Audio.use_count.desc(), Audio.id.desc())
                .limit(first)
            )
            found += [sound for sound in (await session.scalars(statement)).all() if sound not in found]
            if len(found) >= first:
                break
    return found[:first]


async def reels(sessions: async_sessionmaker[AsyncSession], query: str, first: int, viewer: User | None) -> list[Reel]:
    """READY reels listed to the viewer whose caption holds every word of the query (the last
    also as a prefix): of the most popular of up to MATCHES_RANKED matches, those with more
    whole-word hits first. Up to `first` + CANDIDATES rows, so that the caller can drop blocked
    creators' reels."""
    words = _words(query)
    if not words:
        return []
    rows: dict[int, tuple[Reel, int]] = {}
    async with sessions() as session:
        sqlite = not _is_postgresql(session)
        for last_as_prefix in WHOLE_WORDS_FIRST:
            # Common words are in a large share of all captions: rank a bounded set of matches
            # (any, as the index yields them) rather than sort every one by popularity.
            matching = (
                select(Reel.id)
                .where(
                    _matching_words(
                        words, Reel.caption, Reel.id, "search_reels", sqlite=sqlite, last_as_prefix=last_as_prefix
                    ),
                    Reel.status == ReelStatus.READY,
                    listed_to(viewer, follows_creator=False),
                )
                .limit(MATCHES_RANKED)
            )
            statement = (
                with_counts(select(Reel, popularity()))
                .where(Reel.id.in_(matching))
                .order_by(popularity().desc(), Reel.id.desc())
                .limit(first + CANDIDATES)
            )
            rows.update((reel.id, (reel, views)) for reel, views in (await session.execute(statement)).all())
            if len(rows) >= first + CANDIDATES:
                break

    def score(row: tuple[Reel, int]) -> float:
        caption_words = set(WORD.findall(row[0].caption.lower()))
        whole = sum(word in caption_words for word in words) / len(words)
        return whole + 0.1 * math.log10(1 + row[1])

    return [reel for reel, _ in sorted(rows.values(), key=score, reverse=True)][: first + CANDIDATES]
