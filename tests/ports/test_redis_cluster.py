"""What a Redis Cluster adds to the contract suites: the adapters keep working while a slot
they use moves to another master (MOVED and ASK followed by the client)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.crc import key_slot

from reels.ports.kv import RedisKeyValue
from reels.ports.queue import RedisWorkQueue
from reels.ports.queue.base import partition_for
from tests.services.redis_cluster import RedisClusterService

pytestmark = pytest.mark.services


async def moved(cluster: RedisClusterService, key: str) -> None:
    """Reshard the slot of `key` to another master."""
    slot = key_slot(key.encode())
    owner = cluster.owner_of(slot)
    target = next(node for node in cluster.masters if node is not owner)
    await asyncio.to_thread(cluster.move_slot, slot, target)
    assert cluster.owner_of(slot) is target


async def test_kv_survives_a_resharding(redis_cluster: RedisClusterService) -> None:
    kv = RedisKeyValue.from_url(redis_cluster.url)
    await kv.ping()
    key = f"{uuid.uuid4().hex}:views"
    try:
        assert await kv.incr(key, ttl_s=60) == 1
        assert (await kv.take_token(f"{{{key}}}:bucket", rate_per_s=1, burst=2))[0]
        await moved(redis_cluster, key)
        assert await kv.incr(key, ttl_s=60) == 2  # the client followed MOVED to the new owner
        assert await kv.get_many([key, f"{key}:absent"]) == ["2", None]
    finally:
        await kv.close()


async def test_queue_survives_a_resharding(redis_cluster: RedisClusterService) -> None:
    queue = RedisWorkQueue.from_url(redis_cluster.url, partitions=4)
    await queue.ping()
    topic = f"t{uuid.uuid4().hex[:12]}"
    try:
        assert await queue.consume(topic, "g", "c", block_ms=0) == []  # the group exists
        await queue.publish(topic, {"n": 1}, key="reel:1")
        partition = partition_for("reel:1", 4)
        await moved(redis_cluster, f"q:{{{topic}:{partition}}}:normal")
        await queue.publish(topic, {"n": 2}, key="reel:1")
        taken = await queue.consume(topic, "g", "c", count=10, block_ms=1000)
        assert [message.payload for message in taken] == [{"n": 1}, {"n": 2}]
        for message in taken:
            await queue.ack(message, "g")
        assert await queue.depth(topic, "g") == 0
    finally:
        await queue.close()
