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


async def _user_mutation(
    info: Info[Context, None], input: UserInput, act: Callable[..., Awaitable[UserRow]]
) -> UserPayload:
    viewer = info.context.require_viewer()
    platform = info.context.platform

    async def action() -> UserPayload:
        target = await act(platform.graph, platform.sessions, viewer, db_id_of(input.user_id, "User"))
        return UserPayload(user=User.from_row(target))

    return await attempt(UserPayload, action)


async def follow(info: Info[Context, None], input: UserInput) -> UserPayload:
    platform = info.context.platform

    async def act(graph, sessions, viewer, target_id) -> UserRow:  # type: ignore[no-untyped-def]
        return await social.follow(graph, sessions, platform.kv, platform.pubsub, viewer, target_id)

    return await _user_mutation(info, input, act)


async def unfollow(info: Info[Context, None], input: UserInput) -> UserPayload:
    return await _user_mutation(info, input, social.unfollow)


async def block_user(info: Info[Context, None], input: UserInput) -> UserPayload:
    return await _user_mutation(info, input, social.block)


async def mute_user(info: Info[Context, None], input: UserInput) -> UserPayload:
    return await _user_mutation(info, input, social.mute)
