"""Subscription resolvers. Each event is authorized again: a reel that turned invisible to the
subscriber (blocked, deleted, made private) ends the stream. Count events are authorized and
rendered once per process for all of a reel's subscribers (reels.subscriptions.live_counts)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from reels.domain.models import Notification as NotificationRow
from reels.domain.models import ReelStatus
from reels.ports.pubsub import PubSubUnavailable
from reels.resolvers.reels import visible_reel
from reels.schema.context import Context
from reels.schema.globalid import db_id_of
from reels.schema.types import Notification, Reel, ReelCounts
from reels.subscriptions import channels, sockets

FINAL_STATUSES = {ReelStatus.READY, ReelStatus.FAILED, ReelStatus.BLOCKED}


@contextlib.asynccontextmanager
async def _listen(info: Info[Context, None], channel: str) -> AsyncIterator[AsyncIterator[str]]:
    """The channel's messages; a pub/sub outage the port could not ride out ends the stream
    with an error the client sees (and can resubscribe on), never a silent hang."""
    try:
        async with info.context.platform.pubsub.subscribe(channel) as messages:
            yield messages
    except PubSubUnavailable:
        raise _unavailable() from None


def _unavailable() -> GraphQLError:
    return GraphQLError("live updates are unavailable right now; subscribe again", extensions={"code": "UNAVAILABLE"})


async def _visible_reel_id(info: Info[Context, None], reel_id: str) -> int:
    """The reel's database id if the viewer may see it; otherwise a NOT_FOUND error."""
    db_id = db_id_of(reel_id, "Reel")
    if db_id is None or await visible_reel(info, db_id) is None:
        raise GraphQLError("reel not found", extensions={"code": "NOT_FOUND"})
    return db_id


async def reel_counts(info: Info[Context, None], reel_id: strawberry.ID) -> AsyncGenerator[ReelCounts, None]:
    db_id = await _visible_reel_id(info, reel_id)
    info.context.reset_loaders()  # the feed authorizes from here on; the socket need not keep the rows
    operation = sockets.current()
    assert operation is not None  # SubscriptionsOverWebSockets refused the others
    try:
        async with info.context.live_counts.join(db_id, info.context.viewer, operation) as member:
            async for payload in member.payloads():
                if not await operation.send_next(payload):
                    return
    except PubSubUnavailable:
        raise _unavailable() from None
    # The feed authorized and rendered each event once for all of this process's subscribers of
    # the reel, and the payloads went straight to the socket: strawberry only sends `complete`.
    return
    yield


async def reel_status(info: Info[Context, None], reel_id: strawberry.ID) -> AsyncGenerator[Reel, None]:
    db_id = await _visible_reel_id(info, reel_id)
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
