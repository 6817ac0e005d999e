"""Pub/sub port: live events fanned out to subscribers, in every process (see `base`).

`from_settings` picks the adapter once at start-up: when REELS_REDIS_URL is set, sharded channels
on a Redis Cluster (`redis+cluster://`) or plain channels on one Redis; otherwise publishers and
subscribers meet in this process.
"""

from __future__ import annotations

from reels.ports.pubsub.base import PubSub, PubSubUnavailable, Subscription
from reels.ports.pubsub.memory import MemoryPubSub
from reels.ports.pubsub.redis import RedisPubSub
from reels.ports.pubsub.redis_cluster import ShardedRedisPubSub
from reels.ports.redis_client import is_cluster
from reels.settings import Settings

__all__ = [
    "MemoryPubSub",
    "PubSub",
    "PubSubUnavailable",
    "RedisPubSub",
    "ShardedRedisPubSub",
    "Subscription",
    "from_settings",
    "from_url",
]


def from_url(url: str, *, reconnect_timeout_s: float = 30.0) -> RedisPubSub | ShardedRedisPubSub:
    """The Redis adapter for a REELS_REDIS_URL: sharded on a cluster, plain on one Redis."""
    if is_cluster(url):
        return ShardedRedisPubSub(url, reconnect_timeout_s=reconnect_timeout_s)
    return RedisPubSub(url, reconnect_timeout_s=reconnect_timeout_s)


def from_settings(settings: Settings) -> PubSub:
    if settings.redis_url:
        return from_url(settings.redis_url, reconnect_timeout_s=settings.pubsub_reconnect_timeout_s)
    return MemoryPubSub()
