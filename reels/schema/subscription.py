"""The Subscription root (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from reels.resolvers import subscriptions
from reels.schema.context import Context
from reels.schema.permissions import SIGNED_IN
from reels.schema.types import Notification, Reel, ReelCounts


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Live counts of one reel: an event soon after any count changes (coalesced, at most a few a second)."
    )
    async def reel_counts(self, info: Info[Context, None], reel_id: strawberry.ID) -> AsyncGenerator[ReelCounts, None]:
        async for counts in subscriptions.reel_counts(info, reel_id):
            yield counts

    @strawberry.subscription(description="The reel each time its status changes, until READY, FAILED or BLOCKED.")
    async def reel_status(self, info: Info[Context, None], reel_id: strawberry.ID) -> AsyncGenerator[Reel, None]:
        async for reel in subscriptions.reel_status(info, reel_id):
            yield reel

    @strawberry.subscription(
        description="The signed-in viewer's notifications as they happen.", permission_classes=SIGNED_IN
    )
    async def notifications(self, info: Info[Context, None]) -> AsyncGenerator[Notification, None]:
        async for notification in subscriptions.notifications(info):
            yield notification
