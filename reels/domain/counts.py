"""Reel counts as served: from the shared cache, falling back to the database.

The aggregator writes the absolute counts to the cache after every flush; a reader that misses
fills the cache from the database only where the key is still absent, so it can never put back
an older value over a newer one the aggregator wrote meanwhile. Every writer of counts commits
them before it caches them, so counts a request read from the primary are never behind the
cache's and need not ask it (a replica's may be behind).
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


def served(values: Sequence[int | None]) -> dict[str, int]:
    """Counts from SERVED_COLUMNS' values (None: a reel with no row of counts yet); never below
    zero (an excluded like can be counted an instant before the aggregator has counted the like
    itself)."""
    return {field: max(0, value or 0) for field, value in zip(FIELDS, values, strict=True)}


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
) -> list[dict[str, int]]:
    """The reels' counts: the cache's, else the database's. `read_with_reels` holds counts the
    request already read from a replica with the reels (SERVED_COLUMNS): a miss among them costs
    no statement of its own. (Counts read from the primary need not come here: see above.)"""
    cached = await kv.get_many([cache_key(reel_id) for reel_id in reel_ids])
    found = {reel_id: orjson.loads(value) for reel_id, value in zip(reel_ids, cached, strict=True) if value}
    missing = [reel_id for reel_id in reel_ids if reel_id not in found]
    if missing:
        read = read_with_reels or {}
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
