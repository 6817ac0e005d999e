"""Discovery reads: hashtags, search, trends, explore, and the reel lists of the home screens
(reels.domain.feed); renaming a sound."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from graphql import GraphQLError

from reels.domain import feed, feed_feedback, search, sounds
from reels.domain import trending as topic_trends
from reels.domain.errors import not_found
from reels.domain.feed import FeedContext, FeedItem, FeedPage, Showable
from reels.domain.feed_candidates import FeedPorts
from reels.domain.models import Audio, Hashtag, Reel, User
from reels.resolvers.context import Context
from reels.resolvers.engagement import SESSION_HEADER
from reels.resolvers.pages import Page
from reels.resolvers.reels import listed_page, listed_reels, visible_reel

# What explore mixes besides its reels (at most topic_trends.KEPT): this many trending hashtags
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
    return await search.hashtag_named(context.reads, name)


async def search_users(context: Context, query: str, first: int) -> list[User]:
    users = await search.users(context.reads, context.platform.kv, context.platform.graph, query, first)
    relations = await context.loaders.viewer_relation_to.load_many([user.id for user in users])
    return [user for user, relation in zip(users, relations, strict=True) if not relation.blocked_either_way]


async def search_hashtags(context: Context, query: str, first: int) -> list[Hashtag]:
    return await search.hashtags(context.reads, query, first, context.viewer)


async def search_audio(context: Context, query: str, first: int) -> list[Audio]:
    return await search.audio(context.reads, query, first, context.viewer)


async def search_reels(context: Context, query: str, first: int) -> list[Reel]:
    found = await search.reels(context.reads, query, first, context.viewer)
    return (await listed_reels(context, found))[:first]


async def trending_hashtags(context: Context, region: str | None, first: int) -> list[HashtagTrend]:
    p = context.platform
    trends = await topic_trends.hashtags(context.reads, p.kv, region, first)
    rows = await context.loaders.hashtag_by_id.load_many([trend.id for trend in trends])
    return [HashtagTrend(row, trend.score, trend.uses_24h) for trend, row in zip(trends, rows, strict=True) if row]


async def trending_audio(context: Context, region: str | None, first: int) -> list[AudioTrend]:
    p = context.platform
    trends = await topic_trends.audio(context.reads, p.kv, region, first)
    rows = await context.loaders.audio_by_id.load_many([trend.id for trend in trends])
    return [AudioTrend(row, trend.score, trend.uses_24h) for trend, row in zip(trends, rows, strict=True) if row]


async def explore(context: Context, region: str | None, first: int, after: int | None) -> Page[Any]:
    """Trending reels, with a trending hashtag and a suggested creator (signed in) after every
    REELS_PER_BLOCK reels; a kind that runs out leaves the others. Cursors are positions in the mix."""
    p = context.platform
    rows = await context.loaders.reel_by_id.load_many(await topic_trends.reel_ids(context.reads, p.kv, region))
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


def feed_ports(context: Context) -> FeedPorts:
    p = context.platform
    return FeedPorts(p.sessions, context.reads, p.graph, p.kv, p.queue, p.feed_ranker, p.reel_features, p.settings)


def _session_id(context: Context, given: str | None) -> str | None:
    """An anonymous client's session id: the argument, else the X-Reels-Session header."""
    request = context.request
    session_id = given or (request.headers.get(SESSION_HEADER) if request is not None else None)
    if session_id is not None and not session_id.isprintable():
        raise GraphQLError("a sessionId must be printable text", extensions={"code": "INVALID"})
    return session_id[:100] if session_id else None


async def for_you(
    context: Context, first: int, after: int | None, where: FeedContext, session_id: str | None
) -> FeedPage:
    session, ports = _session_id(context, session_id), feed_ports(context)
    page = await feed.for_you(ports, context.viewer, session, where, first=first, after=after)
    _came_with(context, ports, page.items)
    return page


def _came_with(context: Context, ports: FeedPorts, shown: Iterable[FeedItem | Showable]) -> None:
    """Keep at hand what the reels' read (through `ports`) brought: their creators, the viewer's
    likes of them and their counts."""
    loaders = context.loaders
    counts = {}
    for item in shown:
        loaders.user_by_id.prime(item.creator.id, item.creator)
        loaders.viewer_likes_reel.prime(item.reel.id, item.viewer_liked)
        counts[item.reel.id] = item.counts
    loaders.read_counts(counts, from_primary=ports.reads is context.platform.primary_reads)


async def trending(context: Context, region: str | None, first: int, offset: int) -> Page[Reel]:
    """Trending reels, with their place in the list as their cursor."""
    region = region or (context.viewer.region if context.viewer else None)
    ports = feed_ports(context)
    shown, has_next = await feed.trending(ports, context.viewer, region, first=first, offset=offset)
    _came_with(context, ports, shown)
    places = {item.reel.id: offset + n for n, item in enumerate(shown)}
    return Page([item.reel for item in shown], has_next, position=lambda row: (places[row.id],))


async def following_feed(context: Context, first: int, after: int | None) -> Page[Reel]:
    ports = feed_ports(context)
    shown = await feed.following(ports, context.viewer, first=first, after=after)
    _came_with(context, ports, shown)
    return await listed_page(context, [item.reel for item in shown], first)


async def not_interested(context: Context, reel_id: int | None) -> Reel:
    """The viewer is not interested in a reel they may see: it leaves their feeds, and its creator
    and hashtags are demoted for a while."""
    reel = await visible_reel(context, reel_id)
    if reel is None:
        raise not_found("reel", "reel_id")
    hashtags = await context.loaders.hashtags_by_reel.load(reel.id)
    await feed_feedback.not_interested(context.platform.kv, context.signed_in, reel, [tag.name for tag in hashtags])
    return reel
