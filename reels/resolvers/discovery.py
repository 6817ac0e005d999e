"""Discovery reads: hashtags, search, trends, explore, and the reel lists of the home screens
(reels.domain.feed); renaming a sound."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from reels.domain import feed, search, sounds, trending
from reels.domain.models import Audio, Hashtag, Reel, User
from reels.resolvers.context import Context
from reels.resolvers.pages import Page
from reels.resolvers.reels import listed_page, listed_reels

# What explore mixes besides its reels (at most trending.KEPT): this many trending hashtags
# and suggested creators each.
EXPLORE_OTHERS = 10
# Per block of explore: this many reels, then a trending hashtag, then a suggested creator.
REELS_PER_BLOCK = 4


@dataclass(frozen=True)
class HashtagTrend:
    hashtag: Hashtag
    score: float
    uses_24h: int


@dataclass(frozen=True)
class AudioTrend:
    audio: Audio
    score: float
    uses_24h: int


async def hashtag(context: Context, name: str) -> Hashtag | None:
    return await search.hashtag_named(context.platform.sessions, name)


async def search_users(context: Context, query: str, first: int) -> list[User]:
    users = await search.users(context.platform.sessions, context.platform.graph, query, first)
    hidden = await context.loaders.viewer_blocked_either_way.load_many([user.id for user in users])
    return [user for user, blocked in zip(users, hidden, strict=True) if not blocked]


async def search_hashtags(context: Context, query: str, first: int) -> list[Hashtag]:
    return await search.hashtags(context.platform.sessions, query, first, context.viewer)


async def search_audio(context: Context, query: str, first: int) -> list[Audio]:
    return await search.audio(context.platform.sessions, query, first, context.viewer)


async def search_reels(context: Context, query: str, first: int) -> list[Reel]:
    found = await search.reels(context.platform.sessions, query, first, context.viewer)
    return (await listed_reels(context, found))[:first]


async def trending_hashtags(context: Context, region: str | None, first: int) -> list[HashtagTrend]:
    p = context.platform
    trends = await trending.hashtags(p.sessions, p.kv, region, first)
    rows = await context.loaders.hashtag_by_id.load_many([trend.id for trend in trends])
    return [HashtagTrend(row, trend.score, trend.uses_24h) for trend, row in zip(trends, rows, strict=True) if row]


async def trending_audio(context: Context, region: str | None, first: int) -> list[AudioTrend]:
    p = context.platform
    trends = await trending.audio(p.sessions, p.kv, region, first)
    rows = await context.loaders.audio_by_id.load_many([trend.id for trend in trends])
    return [AudioTrend(row, trend.score, trend.uses_24h) for trend, row in zip(trends, rows, strict=True) if row]


async def explore(context: Context, region: str | None, first: int, after: int | None) -> Page[Any]:
    """Trending reels, with a trending hashtag and a suggested creator (signed in) after every
    REELS_PER_BLOCK reels; a kind that runs out leaves the others. Cursors are positions in the mix."""
    p = context.platform
    rows = await context.loaders.reel_by_id.load_many(await trending.reel_ids(p.sessions, p.kv, region))
    muted = await p.graph.muted_ids(context.viewer.id) if context.viewer is not None else set()
    reels = await listed_reels(context, [row for row in rows if row is not None and row.creator_id not in muted])
    tags = await trending_hashtags(context, region, EXPLORE_OTHERS)
    creators: list[User] = []
    if context.viewer is not None:
        suggestions = await p.graph.suggestions(context.viewer.id, limit=EXPLORE_OTHERS)
        rows = await context.loaders.user_by_id.load_many([s.user_id for s in suggestions])
        creators = [user for user in rows if user is not None and user.suspended_at is None]
    blocks = [reels[i : i + REELS_PER_BLOCK] for i in range(0, len(reels), REELS_PER_BLOCK)]
    mix: list[Any] = []
    for block, tag, creator in zip_longest(blocks, tags, creators):
        mix += [*(block or []), *(item for item in (tag, creator) if item is not None)]
    start = 0 if after is None else after + 1
    # Each item's cursor is its place in the mix (rows of different kinds share no id space).
    places = {id(item): place for place, item in enumerate(mix)}
    return Page(mix[start : start + first], len(mix) > start + first, position=lambda item: (places[id(item)],))


async def update_audio(context: Context, audio_id: int | None, title: str) -> Audio:
    return await sounds.update_audio(context.platform.sessions, context.signed_in, audio_id, title)


async def latest_public(context: Context, first: int, after: int | None) -> Page[Reel]:
    """`feed` and `trending` until the ranker lands."""
    p = context.platform
    rows = await feed.latest_public(p.sessions, p.graph, context.viewer, first=first, after=after)
    return await listed_page(context, rows, first)


async def following_feed(context: Context, first: int, after: int | None) -> Page[Reel]:
    p = context.platform
    rows = await feed.following(p.sessions, p.graph, context.viewer, first=first, after=after)
    return await listed_page(context, rows, first)
