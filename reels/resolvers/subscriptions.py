"""Subscription resolvers. Each event is authorized again: a reel that turned invisible to the
subscriber (blocked, deleted, made private) ends the stream. Count events are authorized and
rendered once per process for all of a reel's subscribers (the live count feeds)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

from graphql import GraphQLError

from reels.domain.events import NotificationAdded, ReelStatusChanged
from reels.domain.models import Notification, Reel, ReelStatus
from reels.ports.pubsub import PubSubUnavailable
from reels.resolvers.context import CURRENT_OPERATION, Context
from reels.resolvers.reels import visible_reel

FINAL_STATUSES = {ReelStatus.READY, ReelStatus.FAILED, ReelStatus.BLOCKED}


@contextlib.asynccontextmanager
async def _listen(context: Context, channel: str) -> AsyncIterator[AsyncIterator[str]]:
    """The channel's messages; a pub/sub outage the port could not ride out ends the stream
    with an error the client sees (and can resubscribe on), never a silent hang."""
    try:
        async with context.platform.pubsub.subscribe(channel) as messages:
            yield messages
    except PubSubUnavailable:
        raise _unavailable() from None


def _unavailable() -> GraphQLError:
    return GraphQLError("live updates are unavailable right now; subscribe again", extensions={"code": "UNAVAILABLE"})


async def _visible_reel_id(context: Context, reel_id: int | None) -> int:
    """The reel's id if the viewer may see it; otherwise a NOT_FOUND error."""
    if reel_id is None or await visible_reel(context, reel_id) is None:
        raise GraphQLError("reel not found", extensions={"code": "NOT_FOUND"})
    return reel_id


async def reel_counts(context: Context, reel_id: int | None) -> None:
    """Serves the subscription until it ends: the shared feed authorizes and renders each
    event once for all of this process's subscribers of the reel, and the payloads go
    straight to this operation's socket."""
    db_id = await _visible_reel_id(context, reel_id)
    context.reset_loaders()  # the feed authorizes from here on; the socket need not keep the rows
    operation = CURRENT_OPERATION.get()
    assert operation is not None  # SubscriptionsOverWebSockets refused the others
    try:
        async with context.live_counts.join(db_id, context.viewer, operation) as member:
            async for payload in member.payloads():
                if not await operation.send_next(payload):
                    return
    except PubSubUnavailable:
        raise _unavailable() from None


async def reel_status(context: Context, reel_id: int | None) -> AsyncGenerator[Reel, None]:
    db_id = await _visible_reel_id(context, reel_id)
    async with _listen(context, ReelStatusChanged.channel_of(db_id)) as messages:
        # Read again now that the subscription is live: a change between the first read and
        # the subscribe would otherwise be missed, and a reel already final never changes.
        context.reset_loaders()
        reel = await visible_reel(context, db_id)
        if reel is None:
            return
        if reel.status in FINAL_STATUSES:  # nothing more will change: say where it stands and end
            yield reel
            return
        async for _ in messages:
            context.reset_loaders()
            current = await visible_reel(context, db_id)
            if current is None:
                return
            yield current
            if current.status in FINAL_STATUSES:
                return


async def notifications(context: Context) -> AsyncGenerator[Notification, None]:
    viewer = context.signed_in
    async with _listen(context, NotificationAdded.channel_of(viewer.id)) as messages:
        async for message in messages:
            context.reset_loaders()
            added = NotificationAdded.decode(viewer.id, message)
            async with context.platform.sessions() as session:
                row = await session.get(Notification, added.notification_id)
            if (
                row is not None
                and not (await context.loaders.viewer_relation_to.load(row.actor_id or 0)).blocked_either_way
            ):
                yield row
