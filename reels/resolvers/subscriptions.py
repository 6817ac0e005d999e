"""Subscription resolvers. Each event is authorized again, with fresh loaders: a reel that
turned invisible to the subscriber (blocked, deleted, made private) ends the stream."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from reels.domain.models import Notification as NotificationRow
from reels.domain.models import Reel as ReelRow
from reels.domain.models import ReelStatus
from reels.domain.visibility import can_see_reel
from reels.ports.pubsub import PubSubUnavailable
from reels.resolvers.reels import visible_reel
from reels.schema.context import Context
from reels.schema.globalid import db_id_of
from reels.schema.types import Notification, Reel, ReelCounts
from reels.subscriptions import channels
from reels.subscriptions.snapshots import ReelSnapshots

SNAPSHOTS = ReelSnapshots()
FINAL_STATUSES = {ReelStatus.READY, ReelStatus.FAILED, ReelStatus.BLOCKED}


@contextlib.asynccontextmanager
async def _listen(info: Info[Context, None], channel: str) -> AsyncIterator[AsyncIterator[str]]:
    """The channel's messages; a pub/sub outage the port could not ride out ends the stream
    with an error the client sees (and can resubscribe on), never a silent hang."""
    try:
        async with info.context.platform.pubsub.subscribe(channel) as messages:
            yield messages
    except PubSubUnavailable:
        raise GraphQLError(
            "live updates are unavailable right now; subscribe again", extensions={"code": "UNAVAILABLE"}
        ) from None


async def _visible_or_error(info: Info[Context, None], reel_id: str) -> tuple[int, Reel]:
    db_id = db_id_of(reel_id, "Reel")
    reel = await visible_reel(info, db_id)
    if db_id is None or reel is None:
        raise GraphQLError("reel not found", extensions={"code": "NOT_FOUND"})
    return db_id, reel


async def reel_counts(info: Info[Context, None], reel_id: strawberry.ID) -> AsyncGenerator[ReelCounts, None]:
    db_id, _ = await _visible_or_error(info, reel_id)
    async with _listen(info, channels.reel_counts(db_id)) as messages:
        async for message in messages:
            if not await _still_visible(info, db_id):
                return
            yield ReelCounts.from_counts(db_id, channels.decode(message))


async def _still_visible(info: Info[Context, None], reel_id: int) -> bool:
    """Authorize one more event: the reel from a snapshot shared by the process's subscribers
    (at most half a second old), the viewer's follow and block state read fresh."""
    platform = info.context.platform

    async def fetch(db_id: int) -> ReelRow | None:
        async with platform.sessions() as session:
            return await session.get(ReelRow, db_id)

    row = await SNAPSHOTS.get(reel_id, fetch)
    if row is None:
        return False
    viewer = info.context.viewer
    if viewer is None:
        return can_see_reel(row, None, viewer_follows_creator=False, blocked_either_way=False)
    info.context.reset_loaders()
    loaders = info.context.loaders
    return can_see_reel(
        row,
        viewer,
        viewer_follows_creator=await loaders.viewer_follows_user.load(row.creator_id),
        blocked_either_way=await loaders.viewer_blocked_either_way.load(row.creator_id),
    )


async def reel_status(info: Info[Context, None], reel_id: strawberry.ID) -> AsyncGenerator[Reel, None]:
    db_id, _ = await _visible_or_error(info, reel_id)
    async with _listen(info, channels.reel_status(db_id)) as messages:
        # Read again now that the subscription is live: a change between the first read and
        # the subscribe would otherwise be missed, and a reel already final never changes.
        info.context.reset_loaders()
        reel = await visible_reel(info, db_id)
        if reel is None:
            return
        if reel.status in FINAL_STATUSES:  # nothing more will change: say where it stands and end
            yield reel
            return
        async for _ in messages:
            info.context.reset_loaders()
            current = await visible_reel(info, db_id)
            if current is None:
                return
            yield current
            if current.status in FINAL_STATUSES:
                return


async def notifications(info: Info[Context, None]) -> AsyncGenerator[Notification, None]:
    viewer = info.context.signed_in
    async with _listen(info, channels.notifications(viewer.id)) as messages:
        async for message in messages:
            info.context.reset_loaders()
            async with info.context.platform.sessions() as session:
                row = await session.get(NotificationRow, channels.decode(message)["id"])
            if row is not None and not await info.context.loaders.viewer_blocked_either_way.load(row.actor_id or 0):
                yield Notification.from_row(row)
