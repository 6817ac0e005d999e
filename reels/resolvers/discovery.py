"""Discovery reads: hashtags, search, and the reel lists of the home screens (reels.domain.feed)."""

from __future__ import annotations

from graphql import GraphQLError

from reels.domain import feed, feed_feedback, search
from reels.domain.errors import not_found
from reels.domain.feed import FeedContext, FeedPage
from reels.domain.feed_candidates import FeedPorts
from reels.domain.models import Audio, Hashtag, Reel, User
from reels.resolvers.context import Context
from reels.resolvers.engagement import SESSION_HEADER
from reels.resolvers.pages import Page
from reels.resolvers.reels import listed_page, visible_reel


async def hashtag(context: Context, name: str) -> Hashtag | None:
    return await search.hashtag_named(context.platform.sessions, name)


async def search_users(context: Context, query: str, first: int) -> list[User]:
    users = await search.users(context.platform.sessions, query, first)
    hidden = await context.loaders.viewer_blocked_either_way.load_many([user.id for user in users])
    return [user for user, blocked in zip(users, hidden, strict=True) if not blocked]


async def search_hashtags(context: Context, query: str, first: int) -> list[Hashtag]:
    return await search.hashtags(context.platform.sessions, query, first, context.viewer)


async def search_audio(context: Context, query: str, first: int) -> list[Audio]:
    return await search.audio(context.platform.sessions, query, first, context.viewer)


def feed_ports(context: Context) -> FeedPorts:
    p = context.platform
    return FeedPorts(p.sessions, p.graph, p.kv, p.queue, p.feed_ranker, p.settings)


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
    session = _session_id(context, session_id)
    return await feed.for_you(feed_ports(context), context.viewer, session, where, first=first, after=after)


async def trending(context: Context, region: str | None, first: int, offset: int) -> Page[Reel]:
    """Trending reels, with their place in the list as their cursor."""
    region = region or (context.viewer.region if context.viewer else None)
    rows, has_next = await feed.trending(feed_ports(context), context.viewer, region, first=first, offset=offset)
    places = {row.id: offset + n for n, (row, _) in enumerate(rows)}
    return Page([row for row, _ in rows], has_next, position=lambda row: (places[row.id],))


async def following_feed(context: Context, first: int, after: int | None) -> Page[Reel]:
    rows = await feed.following(feed_ports(context), context.viewer, first=first, after=after)
    return await listed_page(context, rows, first)


async def not_interested(context: Context, reel_id: int | None) -> Reel:
    """The viewer is not interested in a reel they may see: it leaves their feeds, and its creator
    and hashtags are demoted for a while."""
    reel = await visible_reel(context, reel_id)
    if reel is None:
        raise not_found("reel", "reel_id")
    hashtags = await context.loaders.hashtags_by_reel.load(reel.id)
    await feed_feedback.not_interested(context.platform.kv, context.signed_in, reel, [tag.name for tag in hashtags])
    return reel
