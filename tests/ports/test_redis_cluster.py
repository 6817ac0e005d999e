"""What a Redis Cluster adds to the contract suites: the adapters keep working while a slot
they use moves to another master (MOVED and ASK followed by the client), and when a master
fails over to its replica."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from contextlib import suppress
from pathlib import Path

import pytest
from redis.crc import key_slot

from reels.ports.kv import RedisKeyValue
from reels.ports.pubsub import PubSubUnavailable, ShardedRedisPubSub, Subscription
from reels.ports.queue import RedisWorkQueue
from reels.ports.queue.base import partition_for
from tests.services import stop
from tests.services.redis_cluster import RedisClusterService, running_cluster

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


async def publish_until_received(bus: ShardedRedisPubSub, channel: str, messages: Subscription) -> None:
    """Messages published while a channel moves are lost; keep publishing until one lands."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        assert asyncio.get_running_loop().time() < deadline, "no message after the move"
        with suppress(PubSubUnavailable):
            await bus.publish(channel, "after")
        with suppress(TimeoutError):
            if await asyncio.wait_for(anext(messages), 0.2) == "after":
                return


async def test_pubsub_uses_a_sharded_channel_on_its_slots_master(redis_cluster: RedisClusterService) -> None:
    bus = ShardedRedisPubSub(redis_cluster.url)
    channel = f"live:{uuid.uuid4().hex}"
    owner = redis_cluster.owner_of(key_slot(channel.encode()))
    await bus.connect()
    try:
        async with bus.subscribe(channel) as messages:
            # subscribe() returned once the master of the channel's slot confirmed SSUBSCRIBE
            assert owner.client.execute_command("PUBSUB SHARDNUMSUB", channel) == [(channel, 1)]
            assert all(node.client.pubsub_numsub(channel) == [(channel, 0)] for node in redis_cluster.masters)
            await bus.publish(channel, "hello")
            assert await asyncio.wait_for(anext(messages), 10) == "hello"
    finally:
        await bus.close()


async def test_pubsub_follows_a_channel_whose_slot_moved(redis_cluster: RedisClusterService) -> None:
    bus = ShardedRedisPubSub(redis_cluster.url)
    channel = f"live:{uuid.uuid4().hex}"
    await bus.connect()
    try:
        async with bus.subscribe(channel) as messages:
            await bus.publish(channel, "before")
            assert await asyncio.wait_for(anext(messages), 10) == "before"
            await moved(redis_cluster, channel)  # the old master drops its subscribers (SUNSUBSCRIBE)
            await publish_until_received(bus, channel, messages)
            new_owner = redis_cluster.owner_of(key_slot(channel.encode()))
            assert new_owner.client.execute_command("PUBSUB SHARDNUMSUB", channel) == [(channel, 1)]
    finally:
        await bus.close()


# Run in a child process: redis-py's cluster client drops the dead master's node object with its
# connections still open and leaves them to the garbage collector (a leak per topology change,
# not per command), which here would surface as ResourceWarnings in whichever test came next.
SURVIVOR = textwrap.dedent(
    """
    import asyncio, sys, time
    from contextlib import suppress
    from redis.exceptions import RedisError
    from reels.ports.kv import RedisKeyValue
    from reels.ports.pubsub import PubSubUnavailable, ShardedRedisPubSub

    async def main(url, key, channel):
        kv, bus = RedisKeyValue.from_url(url), ShardedRedisPubSub(url, reconnect_timeout_s=60)
        await kv.ping()
        await bus.connect()
        await kv.set(key, "before")
        async with bus.subscribe(channel) as messages:
            await bus.publish(channel, "before")
            assert await asyncio.wait_for(messages.__anext__(), 10) == "before"
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)  # the master is stopped meanwhile
            deadline = time.monotonic() + 60
            while True:  # commands fail until the replica is promoted and the map re-learnt
                assert time.monotonic() < deadline, "the replica did not take over"
                with suppress(RedisError, OSError):
                    if await kv.get(key) == "before":
                        break
                await asyncio.sleep(0.1)
            assert await kv.incr("{" + key + "}:n") == 1
            while True:  # the channel is placed on the promoted replica; messages meanwhile are lost
                assert time.monotonic() < deadline, "no message after the failover"
                with suppress(PubSubUnavailable):
                    await bus.publish(channel, "after")
                with suppress(TimeoutError):
                    if await asyncio.wait_for(messages.__anext__(), 0.2) == "after":
                        break
        await bus.close()
        await kv.close()
        print("survived", flush=True)

    asyncio.run(main(*sys.argv[1:]))
    """
)


def test_a_failed_over_master_is_survived(tmp_path: Path) -> None:
    """The master of a key and of a sharded channel dies; its replica takes over, and the kv
    adapter and the live subscription carry on."""
    with running_cluster(tmp_path, replicas_each=1) as cluster:
        victim = cluster.masters[0]
        key, channel = (
            next(f"{prefix}{n}" for n in range(10_000) if cluster.owner_of(key_slot(f"{prefix}{n}".encode())) is victim)
            for prefix in ("k", "live:")
        )
        with subprocess.Popen(
            [sys.executable, "-c", SURVIVOR, cluster.url, key, channel],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            try:
                assert child.stdout is not None and child.stdin is not None
                assert child.stdout.readline().strip() == "ready"
                assert victim.client.execute_command("WAIT", 1, 5000) == 1  # the replica has the key
                stop(victim.process)
                child.stdin.write("go\n")
                child.stdin.flush()
                assert child.stdout.readline().strip() == "survived"
                assert child.wait(timeout=30) == 0
            finally:
                if child.poll() is None:
                    child.kill()
