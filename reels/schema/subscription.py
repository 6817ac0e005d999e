"""The Subscription root (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from strawberry.types import Info

from reels.resolvers import subscriptions
from reels.resolvers.context import Context
from reels.schema.globalid import db_id_of
from reels.schema.permissions import SIGNED_IN
from reels.schema.types import Notification, Reel, ReelCounts


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Live counts of one reel: an event soon after any count changes (coalesced, at most a few a second)."
    )
    async def reel_counts(self, info: Info[Context, None], reel_id: strawberry.ID) -> AsyncGenerator[ReelCounts, None]:
        await subscriptions.reel_counts(info.context, db_id_of(reel_id, "Reel"))
        # The shared feed wrote each event to the socket itself: strawberry only sends `complete`.
        return
        yield

    @strawberry.subscription(
        description="The reel each time its status or its thumbnail changes, until READY, FAILED or BLOCKED."
    )
    async def reel_status(self, info: Info[Context, None], reel_id: strawberry.ID) -> AsyncGenerator[Reel, None]:
        async with aclosing(subscriptions.reel_status(info.context, db_id_of(reel_id, "Reel"))) as rows:
            async for row in rows:
                yield Reel.from_row(row)

    @strawberry.subscription(
        description="The signed-in viewer's notifications as they happen.", permission_classes=SIGNED_IN
    )
    async def notifications(self, info: Info[Context, None]) -> AsyncGenerator[Notification, None]:
        async with aclosing(subscriptions.notifications(info.context)) as rows:
            async for row in rows:
                yield Notification.from_row(row)
