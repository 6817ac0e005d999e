"""NEW_REEL fan-out: when a reel turns READY, its creator's followers are notified by this
consumer, in batches, never in a request, and the reel is pushed into their following inboxes
(reels.domain.feed_inbox). Creators above REELS_CELEBRITY_FOLLOWERS are not fanned out (their
followers' feeds merge in the creator's recent list when read)."""

from __future__ import annotations

import time
from typing import Any

from reels import db
from reels.domain import events, feed_inbox
from reels.domain.events import FanOutReel, NotificationAdded, Topic, decode_job
from reels.domain.models import Notification, NotificationKind, Reel, User
from reels.domain.visibility import creator_suspended, listed_to_followers
from reels.platform import Platform

GROUP = "fanout-workers"
PAGE = 1000


async def handle(platform: Platform, payload: dict[str, Any]) -> None:
    match decode_job(Topic.FANOUT, payload):
        case FanOutReel(reel_id=reel_id):
            await fan_out(platform, reel_id)
        case other:
            raise ValueError(f"{other!r} is not a fan-out job")


async def fan_out(platform: Platform, reel_id: int) -> None:
    async with platform.sessions() as session:
        reel = await session.get(Reel, reel_id)
        creator = await session.get(User, reel.creator_id) if reel is not None else None
    if reel is None or not listed_to_followers(reel, creator_suspended=creator_suspended(creator)):
        return
    ready_at = time.time()
    await feed_inbox.remember_ready(platform.kv, reel.id, reel.creator_id, ready_at)
    inbox = feed_inbox.InboxSettings.of(platform.settings)
    if await feed_inbox.celebrities_among(platform.kv, platform.graph, [reel.creator_id], inbox):
        return
    after = None
    while True:
        page = await platform.graph.followers(reel.creator_id, first=PAGE, after=after)
        if not page.edges:
            return
        followers_page = [edge.user_id for edge in page.edges]
        await feed_inbox.push(platform.kv, followers_page, reel.id, reel.creator_id, ready_at, inbox)
        async with platform.sessions() as session:
            # A follower already told (a redelivered job, a second run queued by a redelivered
            # media job, or one running at the same time) conflicts with the unique index on
            # (user, reel) for NEW_REEL and is skipped; RETURNING names the ones told now.
            told = (
                await session.execute(
                    db.insert(session, Notification)
                    .on_conflict_do_nothing()
                    .returning(Notification.id, Notification.user_id),
                    [
                        {
                            "user_id": edge.user_id,
                            "kind": NotificationKind.NEW_REEL,
                            "actor_id": reel.creator_id,
                            "reel_id": reel.id,
                        }
                        for edge in page.edges
                    ],
                )
            ).all()
            await session.commit()
        for row in told:
            await events.publish(platform.pubsub, NotificationAdded(row.user_id, row.id))
        if not page.has_next:
            return
        after = page.edges[-1].cursor
