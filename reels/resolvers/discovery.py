"""Discovery reads: hashtags, search, and the reel lists of the home screens (reels.domain.feed)."""

from __future__ import annotations

from reels.domain import feed, search
from reels.domain.models import Audio, Hashtag, Reel, User
from reels.resolvers.context import Context
from reels.resolvers.pages import Page
from reels.resolvers.reels import listed_page


async def hashtag(context: Context, name: str) -> Hashtag | None:
    return await search.hashtag_named(context.reads, name)


async def search_users(context: Context, query: str, first: int) -> list[User]:
    users = await search.users(context.reads, query, first)
    hidden = await context.loaders.viewer_blocked_either_way.load_many([user.id for user in users])
    return [user for user, blocked in zip(users, hidden, strict=True) if not blocked]


async def search_hashtags(context: Context, query: str, first: int) -> list[Hashtag]:
    return await search.hashtags(context.reads, query, first, context.viewer)


async def search_audio(context: Context, query: str, first: int) -> list[Audio]:
    return await search.audio(context.reads, query, first, context.viewer)


async def latest_public(context: Context, first: int, after: int | None) -> Page[Reel]:
    """`feed` and `trending` until the ranker lands."""
    p = context.platform
    rows = await feed.latest_public(context.reads, p.graph, context.viewer, first=first, after=after)
    return await listed_page(context, rows, first)


async def following_feed(context: Context, first: int, after: int | None) -> Page[Reel]:
    p = context.platform
    rows = await feed.following(context.reads, p.graph, context.viewer, first=first, after=after)
    return await listed_page(context, rows, first)
