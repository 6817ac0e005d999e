"""Follow graph: followers and following, suggestions, and follow, unfollow, block, mute."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from reels.domain import social
from reels.domain.models import User
from reels.ports.graph import Cursor
from reels.ports.graph import Page as GraphPage
from reels.resolvers.context import Context
from reels.resolvers.pages import Page

EdgesOf = Callable[..., Awaitable[GraphPage]]


async def followers(context: Context, user_id: int | None, first: int, after: Cursor | None) -> Page[User]:
    return await _people(context, user_id, first, after, context.platform.graph.followers)


async def following(context: Context, user_id: int | None, first: int, after: Cursor | None) -> Page[User]:
    return await _people(context, user_id, first, after, context.platform.graph.following)


async def _people(
    context: Context, user_id: int | None, first: int, after: Cursor | None, edges_of: EdgesOf
) -> Page[User]:
    if user_id is None or (await context.loaders.viewer_relation_to.load(user_id)).blocked_either_way:
        return Page([], has_next=False)
    found = await edges_of(user_id, first=first, after=after)
    users = await context.loaders.user_by_id.load_many([edge.user_id for edge in found.edges])
    positions = {edge.user_id: tuple(edge.cursor) for edge in found.edges}
    return Page(
        [user for user in users if user is not None], has_next=found.has_next, position=lambda user: positions[user.id]
    )


async def suggested_creators(context: Context, first: int) -> list[User]:
    """Two hops out: followed by people the viewer follows, ranked by how many paths lead there."""
    suggestions = await context.platform.graph.suggestions(context.signed_in.id, limit=first)
    users = await context.loaders.user_by_id.load_many([s.user_id for s in suggestions])
    return [user for user in users if user is not None and user.suspended_at is None]


async def follow(context: Context, user_id: int | None) -> User:
    p = context.platform
    return await social.follow(
        p.graph, p.sessions, p.kv, p.queue, p.pubsub, context.signed_in, user_id, inbox_size=p.settings.inbox_size
    )


async def unfollow(context: Context, user_id: int | None) -> User:
    p = context.platform
    return await social.unfollow(p.graph, p.sessions, p.kv, context.signed_in, user_id)


async def block_user(context: Context, user_id: int | None) -> User:
    p = context.platform
    return await social.block(p.graph, p.sessions, p.kv, context.signed_in, user_id)


async def unblock_user(context: Context, user_id: int | None) -> User:
    p = context.platform
    return await social.unblock(p.graph, p.sessions, context.signed_in, user_id)


async def unmute_user(context: Context, user_id: int | None) -> User:
    p = context.platform
    return await social.unmute(p.graph, p.sessions, context.signed_in, user_id)


async def blocked(context: Context, first: int, after: Cursor | None) -> tuple[Page[User], int]:
    """The viewer's blocks, newest first, and how many there are."""
    graph, viewer = context.platform.graph, context.signed_in.id
    return await _people(context, viewer, first, after, graph.blocked), len(await graph.blocked_ids(viewer))


async def muted(context: Context, first: int, after: Cursor | None) -> tuple[Page[User], int]:
    """The viewer's mutes, newest first, and how many there are."""
    graph, viewer = context.platform.graph, context.signed_in.id
    return await _people(context, viewer, first, after, graph.muted), len(await graph.muted_ids(viewer))


async def mute_user(context: Context, user_id: int | None) -> User:
    p = context.platform
    return await social.mute(p.graph, p.sessions, p.kv, context.signed_in, user_id)
