"""The Redis connection of the kv, queue and pub/sub adapters: one server, or a Redis Cluster.

`REELS_REDIS_URL` is either a redis-py URL (`redis://host:6379/0`, `rediss://`, `unix://`) or
`redis+cluster://host:port[,host:port...]`, the seed nodes of a Redis Cluster (database 0).
On a cluster redis-py's `RedisCluster` learns the slot map from the seeds, follows MOVED and ASK
replies, and refreshes the map after a resharding or a failover. Every adapter keeps what one
script or multi-key command touches under one hash tag, so nothing crosses slots.

Ping a cluster client once before using it from concurrent tasks: redis-py's asyncio
`RedisCluster` leaks node connections when several commands set it up at the same time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript

CLUSTER_SCHEME = "redis+cluster"

RedisClient = Redis | RedisCluster


def is_cluster(url: str) -> bool:
    return url.startswith(f"{CLUSTER_SCHEME}://")


def seed_nodes(url: str) -> list[tuple[str, int]]:
    """The (host, port) seeds of a `redis+cluster://` URL; ValueError names what is wrong."""
    rest = url.removeprefix(f"{CLUSTER_SCHEME}://").split("/", 1)[0]
    seeds = []
    for entry in rest.split(","):
        parts = urlsplit(f"//{entry.strip()}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ValueError(f"a cluster seed must be host:port, got {entry!r}")
        seeds.append((parts.hostname, port))
    return seeds


class _ReadyConnections(ConnectionPool):
    """redis-py's pool, with a cheaper check of a connection at check-out. redis-py's own check
    tries a read under a zero timeout: ~60 µs of a GET's ~190 µs of CPU (measured), and a feed
    page sends several commands. What that read would find, the connection's stream reader
    already knows: whether the server closed the connection while it sat idle (end of stream,
    or an error), or sent bytes nobody read. Only then does redis-py's check run, which opens
    the connection again."""

    async def ensure_connection(self, connection: AbstractConnection) -> None:
        reader = connection._reader  # None until connected
        # `_buffer` (bytes received, not yet read) is what redis-py's own `_socket_is_empty` reads.
        if reader is None or reader.at_eof() or reader.exception() is not None or reader._buffer:  # type: ignore[attr-defined]
            await super().ensure_connection(connection)


def connect(url: str, **options: Any) -> RedisClient:
    """A client for `url`, strings decoded; `options` go to every connection (timeouts, retry)."""
    if is_cluster(url):
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in seed_nodes(url)],
            decode_responses=True,
            **options,
        )
    return Redis.from_pool(_ReadyConnections.from_url(url, decode_responses=True, **options))


def register_script(client: RedisClient, text: str) -> AsyncScript:
    """A Lua script run by EVALSHA (loaded on a NOSCRIPT reply); on a cluster it runs on the
    node owning its keys' slot."""
    # redis-py annotates register_script for `Redis` alone; its cluster client has it too.
    return client.register_script(text)  # type: ignore[misc]
