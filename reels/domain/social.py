"""Follows, blocks and mutes, on the follow-graph port."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain import feed_inbox, follow_counts, notifications
from reels.domain.engagement import FOLLOWS, check_rate
from reels.domain.errors import forbidden, invalid, not_found
from reels.domain.models import NotificationKind, User
from reels.domain.unit_of_work import unit_of_work
from reels.ports.graph import FollowGraph, FollowResult
from reels.ports.kv import KeyValue
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue


async def _other_user(
    sessions: async_sessionmaker[AsyncSession], viewer: User, target_id: int | None, verb: str
) -> User:
    """The user a follow, unfollow, block or mute is aimed at: someone who exists, not oneself."""
    target = None
    if target_id is not None:
        async with sessions() as session:
            target = await session.get(User, target_id)
    if target is None:
        raise not_found("user", "user_id")
    if target.id == viewer.id:
        raise invalid(f"you cannot {verb} yourself", "user_id")
    return target


async def follow(
    graph: FollowGraph,
    sessions: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    queue: WorkQueue,
    bus: PubSub,
    viewer: User,
    target_id: int | None,
    *,
    inbox_size: int,
) -> User:
    """Idempotent; refused for oneself and across a block. A new follow notifies the followed and
    brings their recent reels into the viewer's following inbox."""
    target = await _other_user(sessions, viewer, target_id, "follow")
    await check_rate(kv, FOLLOWS, viewer.id)
    result = await graph.follow(viewer.id, target.id)
    if result == FollowResult.BLOCKED:
        raise forbidden("you cannot follow this user", "user_id")
    if result == FollowResult.CREATED:
        await follow_counts.recount(kv, graph, [viewer.id, target.id])
        async with unit_of_work(sessions, queue, bus) as work:
            await notifications.add(work, target.id, NotificationKind.FOLLOWED, actor_id=viewer.id)
        await feed_inbox.pull_in(kv, sessions, viewer, target.id, inbox_size)
    return target


async def unfollow(
    graph: FollowGraph, sessions: async_sessionmaker[AsyncSession], kv: KeyValue, viewer: User, target_id: int | None
) -> User:
    target = await _other_user(sessions, viewer, target_id, "unfollow")
    if await graph.unfollow(viewer.id, target.id):
        await follow_counts.recount(kv, graph, [viewer.id, target.id])
    await feed_inbox.take_out(kv, viewer.id, target.id)
    return target


async def block(
    graph: FollowGraph, sessions: async_sessionmaker[AsyncSession], kv: KeyValue, viewer: User, target_id: int | None
) -> User:
    """Hide each from the other everywhere; existing follows both ways are removed, and what
    either was notified of the other."""
    target = await _other_user(sessions, viewer, target_id, "block")
    await graph.block(viewer.id, target.id)
    await follow_counts.recount(kv, graph, [viewer.id, target.id])  # the follows either way are gone
    await notifications.forget_between(sessions, viewer.id, target.id)
    await feed_inbox.take_out(kv, viewer.id, target.id)
    await feed_inbox.take_out(kv, target.id, viewer.id)
    return target


async def unblock(
    graph: FollowGraph, sessions: async_sessionmaker[AsyncSession], viewer: User, target_id: int | None
) -> User:
    """Each sees the other again; the follows and notifications the block removed are not restored."""
    target = await _other_user(sessions, viewer, target_id, "unblock")
    await graph.unblock(viewer.id, target.id)
    return target


async def unmute(
    graph: FollowGraph, sessions: async_sessionmaker[AsyncSession], viewer: User, target_id: int | None
) -> User:
    target = await _other_user(sessions, viewer, target_id, "unmute")
    await graph.unmute(viewer.id, target.id)
    return target


async def mute(
    graph: FollowGraph, sessions: async_sessionmaker[AsyncSession], kv: KeyValue, viewer: User, target_id: int | None
) -> User:
    """Keep the target's reels out of the viewer's feeds; nothing else changes."""
    target = await _other_user(sessions, viewer, target_id, "mute")
    await graph.mute(viewer.id, target.id)
    await feed_inbox.take_out(kv, viewer.id, target.id)
    return target
