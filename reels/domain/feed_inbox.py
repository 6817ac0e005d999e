"""Following inboxes, by hybrid fan-out.

When a reel turns READY the fan-out consumer pushes it into each follower's inbox (a sorted set
of the newest REELS_INBOX_SIZE, scored by READY time), but only for followers active in the last
REELS_INBOX_ACTIVE_DAYS (a key each feed read renews); every creator also keeps a short list of
their own recent reels. Creators with more than REELS_CELEBRITY_FOLLOWERS followers are not fanned
out: their recent lists are merged in when the inbox is read. A follow pulls the creator's recent
reels in; an unfollow, block or mute takes the creator's reels out. An inbox that is missing (lost
from the cache, or its owner was away longer than the active window) is rebuilt from the database
on demand.

Members are "reel id:creator id", so a creator's reels can be taken out without the database.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain.models import Reel, ReelStatus, User
from reels.domain.visibility import listed_to
from reels.ports.graph import FollowGraph
from reels.ports.kv import KeyValue
from reels.settings import Settings

RECENT_SIZE = 50  # a creator's own recent list
CELEBRITY_VERDICT_S = 600.0


def inbox_key(user_id: int) -> str:
    return f"inbox:{user_id}"


def recent_key(creator_id: int) -> str:
    return f"recent:{creator_id}"


def active_key(user_id: int) -> str:
    return f"inbox:active:{user_id}"


def celebrity_key(user_id: int) -> str:
    return f"inbox:celebrity:{user_id}"


@dataclass(frozen=True, slots=True)
class InboxSettings:
    size: int
    active_days: float
    celebrity_followers: int

    @classmethod
    def of(cls, settings: Settings) -> InboxSettings:
        return cls(settings.inbox_size, settings.inbox_active_days, settings.celebrity_followers)

    @property
    def active_s(self) -> float:
        return self.active_days * 24 * 3600


def _member(reel_id: int, creator_id: int) -> str:
    return f"{reel_id}:{creator_id}"


def _reel_of(member: str) -> int:
    return int(member.partition(":")[0])


async def _trim(kv: KeyValue, key: str, size: int) -> None:
    extra = await kv.zrange_desc(key, size, -1)
    if extra:
        await kv.zrem(key, *(member for member, _ in extra))


async def remember_ready(kv: KeyValue, reel_id: int, creator_id: int, ready_at: float) -> None:
    """Every READY reel joins its creator's recent list (what celebrities' followers read)."""
    await kv.zadd(recent_key(creator_id), {_member(reel_id, creator_id): ready_at})
    await _trim(kv, recent_key(creator_id), RECENT_SIZE)


async def push(
    kv: KeyValue, followers: Sequence[int], reel_id: int, creator_id: int, ready_at: float, settings: InboxSettings
) -> int:
    """Push a READY reel into the inboxes of the active ones among `followers`; how many."""
    active = await kv.get_many([active_key(user) for user in followers])
    pushed = 0
    for user, mark in zip(followers, active, strict=True):
        if mark is None:
            continue  # away: the inbox is rebuilt when they are back
        await kv.zadd(inbox_key(user), {_member(reel_id, creator_id): ready_at})
        await _trim(kv, inbox_key(user), settings.size)
        pushed += 1
    return pushed


async def _recent_from_db(
    sessions: async_sessionmaker[AsyncSession], viewer: User, creators: Sequence[int], limit: int
) -> dict[str, float]:
    if not creators:
        return {}
    query = (
        select(Reel.id, Reel.creator_id, Reel.created_at)
        .where(
            Reel.creator_id.in_(creators),
            Reel.status == ReelStatus.READY,
            listed_to(viewer, follows_creator=True),
        )
        .order_by(Reel.id.desc())
        .limit(limit)
    )
    async with sessions() as session:
        found = (await session.execute(query)).all()
    return {_member(reel_id, creator_id): created_at.timestamp() for reel_id, creator_id, created_at in found}


async def celebrities_among(
    kv: KeyValue, graph: FollowGraph, users: Sequence[int], settings: InboxSettings
) -> list[int]:
    """The users who are not fanned out (more than REELS_CELEBRITY_FOLLOWERS followers): their
    followers read their recent lists instead. Fan-out and inbox reads ask this same question.

    The verdict is kept in the cache for CELEBRITY_VERDICT_S: counting a popular creator's
    followers reads every one of their follows (tens of milliseconds each time a list is built),
    and crossing the threshold is slow. Within that window a creator who just crossed it is
    still treated as before, by both sides alike."""
    if not users:
        return []
    keys = [celebrity_key(user) for user in users]
    verdicts = dict(zip(users, await kv.get_many(keys), strict=True))
    unknown = [user for user, verdict in verdicts.items() if verdict is None]
    if unknown:
        counts = await graph.follow_counts(unknown)
        found = {user: "1" if counts.get(user, (0, 0))[0] > settings.celebrity_followers else "0" for user in unknown}
        await kv.set_many({celebrity_key(user): verdict for user, verdict in found.items()}, ttl_s=CELEBRITY_VERDICT_S)
        verdicts |= found
    return [user for user in users if verdicts[user] == "1"]


async def read(
    kv: KeyValue,
    sessions: async_sessionmaker[AsyncSession],
    viewer: User,
    followees: Sequence[int],
    celebrities: Sequence[int],
    settings: InboxSettings,
) -> list[tuple[int, float]]:
    """The viewer's inbox, celebrities merged in, newest first: (reel id, READY time)."""
    key = inbox_key(viewer.id)
    was_active = await kv.get(active_key(viewer.id)) is not None
    await kv.set(active_key(viewer.id), str(time.time()), ttl_s=settings.active_s)
    if not was_active:  # lost, or left to go stale while away: rebuild from the database
        await kv.delete(key)
        fanned_out = set(followees) - set(celebrities)
        ordinary = [user for user in followees if user in fanned_out]
        rebuilt = await _recent_from_db(sessions, viewer, ordinary, settings.size)
        await kv.zadd(key, rebuilt)
    await kv.expire(key, settings.active_s)
    merged = dict(await kv.zrange_desc(key, 0, settings.size - 1))
    for celebrity in celebrities[:100]:
        merged.update(await kv.zrange_desc(recent_key(celebrity), 0, RECENT_SIZE - 1))
    newest = sorted(merged.items(), key=lambda item: (item[1], _reel_of(item[0])), reverse=True)
    return [(_reel_of(member), at) for member, at in newest]


async def pull_in(
    kv: KeyValue, sessions: async_sessionmaker[AsyncSession], viewer: User, creator_id: int, size: int
) -> None:
    """After a follow: the creator's recent reels join the viewer's inbox (if it is kept)."""
    if await kv.get(active_key(viewer.id)) is None:
        return
    await kv.zadd(inbox_key(viewer.id), await _recent_from_db(sessions, viewer, [creator_id], RECENT_SIZE))
    await _trim(kv, inbox_key(viewer.id), size)


async def take_out(kv: KeyValue, user_id: int, creator_id: int) -> None:
    """After an unfollow, block or mute: the creator's reels leave the user's inbox."""
    suffix = f":{creator_id}"
    members = [member for member, _ in await kv.zrange_desc(inbox_key(user_id), 0, -1) if member.endswith(suffix)]
    if members:
        await kv.zrem(inbox_key(user_id), *members)
