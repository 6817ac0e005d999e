"""Pub/sub port: live events fanned out to subscribers, in every process (see `base`).

`from_settings` picks the adapter once at start-up: Redis when REELS_REDIS_URL is set, otherwise
publishers and subscribers meet in this process.
"""

from __future__ import annotations

from reels.ports.pubsub.base import PubSub, PubSubUnavailable, Subscription
from reels.ports.pubsub.memory import MemoryPubSub
from reels.ports.pubsub.redis import RedisPubSub
from reels.settings import Settings

__all__ = ["MemoryPubSub", "PubSub", "PubSubUnavailable", "RedisPubSub", "Subscription", "from_settings"]


def from_settings(settings: Settings) -> PubSub:
    if settings.redis_url:
        return RedisPubSub(settings.redis_url, reconnect_timeout_s=settings.pubsub_reconnect_timeout_s)
    return MemoryPubSub()
