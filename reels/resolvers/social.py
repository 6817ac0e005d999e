"""Follow graph: followers/following connections and follow, unfollow, block, mute."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from graphql import GraphQLError
from strawberry.types import Info

from reels.domain import social
from reels.domain.models import User as UserRow
from reels.resolvers.mutations import attempt
from reels.schema.context import Context
from reels.schema.globalid import db_id_of, decode_cursor, encode_cursor
from reels.schema.inputs import UserInput
from reels.schema.payloads import UserPayload
from reels.schema.types import PageInfo, User, UserConnection, UserEdge


async def followers(info: Info[Context, None], user_id: str, first: int, after: str | None) -> UserConnection:
    return await _edges(info, user_id, first, after, info.context.platform.graph.followers)


async def following(info: Info[Context, None], user_id: str, first: int, after: str | None) -> UserConnection:
    return await _edges(info, user_id, first, after, info.context.platform.graph.following)


async def _edges(
    info: Info[Context, None], user_id: str, first: int, after: str | None, fetch: Callable[..., Awaitable]
) -> UserConnection:
    db_id = db_id_of(user_id, "User")
    if db_id is None or await info.context.loaders.viewer_blocked_either_way.load(db_id):
        return UserConnection(edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None))
    try:
        position = decode_cursor(after, parts=2)
    except ValueError:
        raise GraphQLError("`after` is not a cursor this API issued", extensions={"code": "INVALID"}) from None
    found = await fetch(db_id, first=first, after=position)
    users = await info.context.loaders.user_by_id.load_many([edge.user_id for edge in found.edges])
    edges = [
        UserEdge(cursor=encode_cursor(*edge.cursor), node=User.from_row(user))
        for edge, user in zip(found.edges, users, strict=True)
        if user is not None
    ]
    return UserConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=found.has_next, end_cursor=encode_cursor(*found.edges[-1].cursor) if found.edges else None
        ),
    )


async def suggested_creators(info: Info[Context, None], first: int) -> list[User]:
    """Two hops out: followed by people the viewer follows, ranked by how many paths lead there."""
    viewer = info.context.signed_in
    suggestions = await info.context.platform.graph.suggestions(viewer.id, limit=first)
    users = await info.context.loaders.user_by_id.load_many([s.user_id for s in suggestions])
    return [User.from_row(user) for user in users if user is not None and user.suspended_at is None]


async def _user_mutation(
    info: Info[Context, None], input: UserInput, act: Callable[[UserRow, int | None], Awaitable[UserRow]]
) -> UserPayload:
    viewer = info.context.signed_in

    async def action() -> UserPayload:
        return UserPayload(user=User.from_row(await act(viewer, db_id_of(input.user_id, "User"))))

    return await attempt(UserPayload, action)


async def follow(info: Info[Context, None], input: UserInput) -> UserPayload:
    p = info.context.platform
    return await _user_mutation(
        info, input, lambda viewer, target: social.follow(p.graph, p.sessions, p.kv, p.pubsub, viewer, target)
    )


async def unfollow(info: Info[Context, None], input: UserInput) -> UserPayload:
    p = info.context.platform
    return await _user_mutation(
        info, input, lambda viewer, target: social.unfollow(p.graph, p.sessions, viewer, target)
    )


async def block_user(info: Info[Context, None], input: UserInput) -> UserPayload:
    p = info.context.platform
    return await _user_mutation(info, input, lambda viewer, target: social.block(p.graph, p.sessions, viewer, target))


async def mute_user(info: Info[Context, None], input: UserInput) -> UserPayload:
    p = info.context.platform
    return await _user_mutation(info, input, lambda viewer, target: social.mute(p.graph, p.sessions, viewer, target))
