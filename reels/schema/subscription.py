"""The Subscription root (graphql-transport-ws)."""

from __future__ import annotations

import strawberry

from reels.resolvers import subscriptions
from reels.schema.permissions import SIGNED_IN


@strawberry.type
class Subscription:
    reel_counts = strawberry.subscription(
        resolver=subscriptions.reel_counts,
        description="Live counts of one reel: an event soon after any count changes (coalesced, at most a few a second).",
    )
    reel_status = strawberry.subscription(
        resolver=subscriptions.reel_status,
        description="The reel each time its status changes, until READY, FAILED or BLOCKED.",
    )
    notifications = strawberry.subscription(
        resolver=subscriptions.notifications,
        description="The signed-in viewer's notifications as they happen.",
        permission_classes=SIGNED_IN,
    )
