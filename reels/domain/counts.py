"""Reel counts as served: from the shared cache, falling back to the database.

The aggregator writes the absolute counts to the cache after every flush; a reader that misses
fills the cache from the database only where the key is still absent, so it can never put back
an older value over a newer one the aggregator wrote meanwhile. Counts a request read from the
primary with their reels need no cache: the primary has every flush before the cache does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.db import InIds
from reels.domain.models import ReelCounts
from reels.ports.kv import KeyValue

FIELDS = ("likes", "views", "comments", "shares")
ZERO = dict.fromkeys(FIELDS, 0)
# The counts as served, in FIELDS order: what flagged accounts contributed is left out
# (reels.domain.integrity keeps the excluded columns).
SERVED_COLUMNS = (
    ReelCounts.likes - ReelCounts.excluded_likes,
    ReelCounts.views - ReelCounts.excluded_views,
    ReelCounts.comments - ReelCounts.excluded_comments,
    ReelCounts.shares,
)


def served(values: Sequence[int]) -> dict[str, int]:
    """Counts from SERVED_COLUMNS' values; never below zero (an excluded like can be counted an
    instant before the aggregator has counted the like itself)."""
    return {field: max(0, value) for field, value in zip(FIELDS, values, strict=True)}


# Bounds how long a count could stay stale if the cache write after a flush failed.
CACHE_TTL_S = 300


def cache_key(reel_id: int) -> str:
    return f"counts:{reel_id}"


async def cache_counts(kv: KeyValue, totals: Mapping[int, Mapping[str, int]]) -> None:
    await kv.set_many(
        {cache_key(reel_id): orjson.dumps(counts).decode() for reel_id, counts in totals.items()},
        ttl_s=CACHE_TTL_S,
    )


# Built once: a page whose counts had left the cache built it afresh.
_COUNTS_BY_REEL = select(ReelCounts.reel_id, *SERVED_COLUMNS).where(InIds(ReelCounts.reel_id, "reel_ids"))


async def read_counts(
    kv: KeyValue,
    sessions: async_sessionmaker[AsyncSession],
    reel_ids: Sequence[int],
    *,
    read_with_reels: Mapping[int, dict[str, int]] | None = None,
    read_from_primary: bool = False,
) -> list[dict[str, int]]:
    """The reels' counts: the cache's, else the database's. `read_with_reels` holds counts the
    request already read from the database with the reels (SERVED_COLUMNS): a miss among them
    costs no statement of its own. Read from the primary (`read_from_primary`), they are served
    as they are, without asking the cache: every writer of counts commits them there before it
    caches them, so the primary is never behind the cache (a replica may be)."""
    read = read_with_reels or {}
    if read_from_primary and (at_hand := {reel_id: read[reel_id] for reel_id in reel_ids if reel_id in read}):
        rest = [reel_id for reel_id in reel_ids if reel_id not in at_hand]
        found = dict(zip(rest, await read_counts(kv, sessions, rest), strict=True)) if rest else {}
        return [at_hand[reel_id] if reel_id in at_hand else found[reel_id] for reel_id in reel_ids]
    cached = await kv.get_many([cache_key(reel_id) for reel_id in reel_ids])
    found = {reel_id: orjson.loads(value) for reel_id, value in zip(reel_ids, cached, strict=True) if value}
    missing = [reel_id for reel_id in reel_ids if reel_id not in found]
    if missing:
        found |= {reel_id: read[reel_id] for reel_id in missing if reel_id in read}
        unread = [reel_id for reel_id in missing if reel_id not in read]
        if unread:
            async with sessions() as session:
                rows = (await session.execute(_COUNTS_BY_REEL, {"reel_ids": unread})).all()
            for reel_id, *values in rows:
                found[reel_id] = served(values)
        # One round trip for the page's misses (it was one a reel: a page of reels nobody had
        # touched for CACHE_TTL_S made 20).
        await kv.set_many(
            {cache_key(reel_id): orjson.dumps(found.get(reel_id, ZERO)).decode() for reel_id in missing},
            ttl_s=CACHE_TTL_S,
            only_if_absent=True,
        )
    return [found.get(reel_id, ZERO) for reel_id in reel_ids]
