"""Trending hashtags ("challenges") and sounds, ranked by use velocity, per region and globally;
and explore's trending reels, the most popular of the week.

A use is a reel listed to everyone (READY, PUBLIC, not deleted, its creator not suspended: the
visibility rule for an anonymous viewer, so BLOCKED, HELD, private and followers-only reels
never count) that carries the hashtag or the sound. Each use weighs 2^(-age / HALF_LIFE_H), so
a tag used ten times this hour outranks one used ten times yesterday; uses older than WINDOW_H
are left out, and a tag or sound with fewer than MIN_USES uses in the window does not trend.
A reel's region is its creator's (`User.region`).

The counting is SQL over `reels` (one GROUP BY per (tag, hour) bucket, the hour read from the
Snowflake id, so both dialects do it alike and it runs on a read replica as it is); the decay
is applied here to the few rows that returns. The ranking is cached in the key-value port for
CACHE_TTL_S per kind and region, so a busy home screen costs one query a minute; so are the
ids of explore's reels.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from reels.domain.accounts import REGION_PATTERN
from reels.domain.errors import invalid
from reels.domain.ids import EPOCH_MS, TIMESTAMP_SHIFT
from reels.domain.models import Reel, ReelHashtag, User, Visibility
from reels.domain.popularity import popularity, with_counts
from reels.domain.visibility import listed_to
from reels.ports.kv import KeyValue

HALF_LIFE_H = 6.0
WINDOW_H = 48
DAY_H = 24
MIN_USES = 3
CACHE_TTL_S = 60.0
# The most trends kept per kind and region: what a `first` of up to 100 can ask for.
KEPT = 100
HOUR_MS = 3_600_000
# Explore's trending reels: the most popular public reels of the last REELS_WINDOW_H hours.
REELS_WINDOW_H = 7 * 24


@dataclass(frozen=True)
class Trend:
    """A hashtag's or a sound's id, its decayed use score and its uses in the last 24 hours."""

    id: int
    score: float
    uses_24h: int


def checked_region(region: str | None) -> str | None:
    """The region as stored (upper-case ISO 3166-1 alpha-2), None for global; INVALID otherwise."""
    if region is None or not region.strip():
        return None
    code = region.strip()
    if not REGION_PATTERN.fullmatch(code):
        raise invalid("region must be an ISO 3166-1 alpha-2 code, e.g. IN", "region")
    return code.upper()


def _hour(snowflake: InstrumentedAttribute[int]) -> ColumnElement[int]:
    """The hour (since the id epoch) a Snowflake id was made in: integer division on both dialects."""
    return snowflake.op("/")(literal(HOUR_MS << TIMESTAMP_SHIFT))


async def hashtags(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, region: str | None, first: int
) -> list[Trend]:
    return (await _cached(sessions, kv, "hashtags", ReelHashtag.hashtag_id, checked_region(region)))[:first]


async def audio(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, region: str | None, first: int
) -> list[Trend]:
    return (await _cached(sessions, kv, "audio", Reel.audio_id, checked_region(region)))[:first]


async def _cached(
    sessions: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    kind: str,
    column: InstrumentedAttribute[Any],
    region: str | None,
) -> list[Trend]:
    key = f"trending:{kind}:{region or '*'}"
    if (cached := await kv.get(key)) is not None:
        return [Trend(*row) for row in json.loads(cached)]
    trends = await _rank(sessions, column, region)
    await kv.set(key, json.dumps([[t.id, t.score, t.uses_24h] for t in trends]), ttl_s=CACHE_TTL_S)
    return trends


async def _rank(
    sessions: async_sessionmaker[AsyncSession], column: InstrumentedAttribute[Any], region: str | None
) -> list[Trend]:
    now_h = (time.time() * 1000 - EPOCH_MS) / HOUR_MS
    oldest_id = _first_id_since(WINDOW_H)
    hour = _hour(Reel.id).label("hour")
    query = (
        select(column, hour, func.count())
        .where(column.is_not(None), Reel.id >= oldest_id, listed_to(None, follows_creator=False))
        .group_by(column, hour)
    )
    if column.table is ReelHashtag.__table__:
        query = query.select_from(ReelHashtag).join(Reel, Reel.id == ReelHashtag.reel_id)
    if region is not None:
        query = query.join(User, User.id == Reel.creator_id).where(User.region == region)
    scores: dict[int, float] = {}
    uses: dict[int, int] = {}
    recent: dict[int, int] = {}
    async with sessions() as session:
        for item, bucket, count in (await session.execute(query)).all():
            age_h = max(0.0, now_h - (bucket + 0.5))  # a bucket's uses taken at its middle
            scores[item] = scores.get(item, 0.0) + count * 0.5 ** (age_h / HALF_LIFE_H)
            uses[item] = uses.get(item, 0) + count
            recent[item] = recent.get(item, 0) + (count if now_h - bucket <= DAY_H else 0)
    trending = [Trend(item, round(scores[item], 6), recent[item]) for item in scores if uses[item] >= MIN_USES]
    trending.sort(key=lambda trend: (-trend.score, -trend.id))
    return trending[:KEPT]


def _first_id_since(hours_ago: float) -> int:
    """The smallest Snowflake id made `hours_ago` hours ago or later."""
    return max(0, int(time.time() * 1000 - EPOCH_MS - hours_ago * HOUR_MS)) << TIMESTAMP_SHIFT


async def reel_ids(sessions: async_sessionmaker[AsyncSession], kv: KeyValue, region: str | None) -> list[int]:
    """The most popular public reels of the last week (of the region's creators, if one is
    given), as everyone may see them; cached as trends are. The caller leaves out what its
    viewer muted or blocked."""
    code = checked_region(region)
    key = f"trending:reels:{code or '*'}"
    if (cached := await kv.get(key)) is not None:
        ids: list[int] = json.loads(cached)
        return ids
    query = (
        with_counts(select(Reel.id))
        .where(
            Reel.id >= _first_id_since(REELS_WINDOW_H),
            Reel.visibility == Visibility.PUBLIC,
            listed_to(None, follows_creator=False),
        )
        .order_by(popularity().desc(), Reel.id.desc())
        .limit(KEPT)
    )
    if code is not None:
        query = query.join(User, User.id == Reel.creator_id).where(User.region == code)
    async with sessions() as session:
        ids = list((await session.scalars(query)).all())
    await kv.set(key, json.dumps(ids), ttl_s=CACHE_TTL_S)
    return ids
