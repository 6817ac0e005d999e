"""WorkQueue contract: the in-process and Redis Streams adapters behave the same."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from reels.ports.queue import MemoryWorkQueue, Message, RedisWorkQueue, WorkQueue

PARTITIONS = 4
# Small backoffs and idle timeouts keep the tests fast; polling with a deadline keeps them
# independent of machine speed.
OPTIONS = {"partitions": PARTITIONS, "retry_base_ms": 10, "retry_max_ms": 50}


# One Redis, and a 3-master Redis Cluster (tests/services/redis_cluster.py).
REDIS_URL_FIXTURE = {"redis": "redis_url", "redis-cluster": "redis_cluster_url"}


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[WorkQueue]:
    adapter: WorkQueue
    if request.param == "memory":
        adapter = MemoryWorkQueue(**OPTIONS)
    else:
        adapter = RedisWorkQueue.from_url(request.getfixturevalue(REDIS_URL_FIXTURE[request.param]), **OPTIONS)
    await adapter.ping()  # as Platform.start does: a cluster client is set up before concurrent use
    yield adapter
    await adapter.close()


@pytest.fixture
def topic() -> str:
    return f"t{uuid.uuid4().hex[:12]}"  # tests share one Redis


async def consume_until(
    queue: WorkQueue, topic: str, group: str, consumer: str, *, want: int = 1, timeout_s: float = 10.0, **options: int
) -> list[Message]:
    """Poll until `want` messages arrived (each consume blocks briefly), failing at the deadline."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want:
        assert time.monotonic() < deadline, f"got {len(got)} of {want} messages in time"
        got += await queue.consume(topic, group, consumer, block_ms=50, **options)
    return got


async def test_publish_consume_ack(queue: WorkQueue, topic: str) -> None:
    message_id = await queue.publish(topic, {"reel": 1, "title": "é"}, key="reel:1")
    assert await queue.depth(topic, "g") == 1
    [message] = await queue.consume(topic, "g", "c1", block_ms=0)
    assert (message.id, message.payload, message.attempts, message.consumer) == (
        message_id,
        {"reel": 1, "title": "é"},
        1,
        "c1",
    )
    assert (message.topic, message.lane) == (topic, "normal")
    assert 0 <= message.partition < queue.partitions(topic) == PARTITIONS
    assert await queue.depth(topic, "g") == 1  # delivered, not yet acked
    await queue.ack(message, "g")
    assert await queue.depth(topic, "g") == 0
    assert await queue.consume(topic, "g", "c1", block_ms=0) == []


async def test_consume_waits_for_a_publish(queue: WorkQueue, topic: str) -> None:
    waiting = asyncio.create_task(queue.consume(topic, "g", "c1", block_ms=10_000))
    await asyncio.sleep(0.05)  # let it block first
    await queue.publish(topic, {"n": 1}, key="k")
    [message] = await asyncio.wait_for(waiting, 10)
    assert message.payload == {"n": 1}


async def test_consume_returns_empty_after_block(queue: WorkQueue, topic: str) -> None:
    assert await queue.consume(topic, "g", "c1", block_ms=20) == []


async def test_same_key_same_partition_in_order(queue: WorkQueue, topic: str) -> None:
    ids = [await queue.publish(topic, {"n": n}, key="reel:42") for n in range(20)]
    for n in range(30):
        await queue.publish(topic, {"other": n}, key=f"reel:{n}")
    messages = await consume_until(queue, topic, "g", "c1", want=50, count=100)
    ordered = [m for m in messages if "n" in m.payload]
    assert [m.payload["n"] for m in ordered] == list(range(20))
    assert [m.id for m in ordered] == ids
    assert len({m.partition for m in ordered}) == 1
    positions = [m.position for m in ordered]
    assert positions == sorted(positions) and len(set(positions)) == 20
    assert len({m.partition for m in messages}) > 1  # other keys spread over partitions


async def test_count_is_a_cap(queue: WorkQueue, topic: str) -> None:
    for n in range(10):
        await queue.publish(topic, {"n": n}, key=f"k{n}")
    first = await queue.consume(topic, "g", "c1", count=3, block_ms=0)
    assert len(first) == 3
    rest = await consume_until(queue, topic, "g", "c1", want=7, count=100)
    assert sorted(m.payload["n"] for m in first + rest) == list(range(10))


async def test_high_lane_first(queue: WorkQueue, topic: str, request: pytest.FixtureRequest) -> None:
    # On a cluster lanes order the jobs of a partition; across partitions a consumer takes turns.
    keys = "aaa" if request.node.callspec.params["queue"] == "redis-cluster" else "abc"
    await queue.publish(topic, {"lane": "bulk"}, key=keys[0], lane="bulk")
    await queue.publish(topic, {"lane": "normal"}, key=keys[1])
    await queue.publish(topic, {"lane": "high"}, key=keys[2], lane="high")
    [first] = await queue.consume(topic, "g", "c1", count=1, block_ms=0)
    assert (first.lane, first.payload) == ("high", {"lane": "high"})
    rest = await queue.consume(topic, "g", "c1", count=10, block_ms=0)
    assert [m.lane for m in rest] == ["normal", "bulk"]
    with pytest.raises(ValueError):
        await queue.publish(topic, {}, key="a", lane="urgent")


async def test_consumer_group_semantics(queue: WorkQueue, topic: str) -> None:
    for group in ("workers", "auditors"):  # a group exists from its first consume on
        assert await queue.consume(topic, group, "first", block_ms=0) == []
    for n in range(5):
        await queue.publish(topic, {"n": n}, key=f"k{n}")
    first = await consume_until(queue, topic, "workers", "a", want=5, count=10)
    assert await queue.consume(topic, "workers", "b", block_ms=0) == []  # same group: already taken
    other_group = await consume_until(queue, topic, "auditors", "x", want=5, count=10)
    assert sorted(m.id for m in other_group) == sorted(m.id for m in first)
    for message in first:
        await queue.ack(message, "workers")
    assert await queue.depth(topic, "workers") == 0
    assert await queue.depth(topic, "auditors") == 5


async def test_consumer_reads_only_its_partitions(queue: WorkQueue, topic: str) -> None:
    for n in range(40):
        await queue.publish(topic, {"n": n}, key=f"k{n}")
    mine = await consume_until(queue, topic, "g", "c1", want=1, count=100, partitions={0, 1})
    assert {m.partition for m in mine} <= {0, 1}
    with pytest.raises(ValueError):
        await queue.consume(topic, "g", "c1", partitions={PARTITIONS})


async def test_unacked_message_goes_to_another_consumer_after_idle_timeout(queue: WorkQueue, topic: str) -> None:
    await queue.publish(topic, {"job": 1}, key="k")
    [taken] = await queue.consume(topic, "g", "doomed", block_ms=0)
    # Not idle long enough: nobody else gets it.
    assert await queue.consume(topic, "g", "survivor", block_ms=0, claim_idle_ms=60_000) == []
    [claimed] = await consume_until(queue, topic, "g", "survivor", claim_idle_ms=50)
    assert (claimed.id, claimed.payload, claimed.attempts, claimed.consumer) == (taken.id, {"job": 1}, 2, "survivor")
    assert await queue.touch(taken, "g") is False  # the dead consumer's lease is gone
    assert await queue.retry_or_dead_letter(taken, "g", "late failure") is True  # left to the survivor
    await queue.ack(claimed, "g")
    assert await queue.depth(topic, "g") == 0
    assert await queue.dead_letters(topic) == []


async def test_ack_many_settles_a_batch_across_streams_and_retries(queue: WorkQueue, topic: str) -> None:
    for n in range(12):
        await queue.publish(topic, {"n": n}, key=f"k{n}", lane=("high", "normal", "bulk")[n % 3])
    taken = await consume_until(queue, topic, "g", "c1", want=12, count=12)
    assert len({(message.partition, message.lane) for message in taken}) > 1
    assert await queue.retry_or_dead_letter(taken[0], "g", "later", max_attempts=3) is True  # waiting to retry
    await queue.ack_many(taken, "g")
    await queue.ack_many([], "g")
    assert await queue.depth(topic, "g") == 0
    assert await queue.consume(topic, "g", "c2", block_ms=100, claim_idle_ms=0) == []


async def test_ack_many_settles_thousands_of_one_stream(queue: WorkQueue, topic: str) -> None:
    # More ids of one stream than the Redis adapter acknowledges in one step (a thousand).
    for n in range(2_500):
        await queue.publish(topic, {"n": n}, key="one key")
    taken = await consume_until(queue, topic, "g", "c1", want=2_500, count=2_500)
    await queue.ack_many(taken, "g")
    assert await queue.depth(topic, "g") == 0
    assert await queue.consume(topic, "g", "c2", block_ms=100, claim_idle_ms=0) == []


async def test_touch_keeps_a_long_job(queue: WorkQueue, topic: str) -> None:
    await queue.publish(topic, {"job": 1}, key="k")
    [message] = await queue.consume(topic, "g", "worker", block_ms=0)
    await asyncio.sleep(0.5)  # idle longer than the thief's claim_idle_ms below...
    assert await queue.touch(message, "g") is True  # ...but the worker says it is still busy
    assert await queue.consume(topic, "g", "thief", block_ms=0, claim_idle_ms=400) == []
    await queue.ack(message, "g")
    assert await queue.depth(topic, "g") == 0


async def test_retry_then_dead_letter_then_requeue(queue: WorkQueue, topic: str) -> None:
    await queue.publish(topic, {"job": "flaky"}, key="k", lane="high")
    [message] = await queue.consume(topic, "g", "c1", block_ms=0)
    assert await queue.retry_or_dead_letter(message, "g", "boom 1", max_attempts=3) is True
    [message] = await consume_until(queue, topic, "g", "c1")
    assert message.attempts == 2
    assert await queue.retry_or_dead_letter(message, "g", "boom 2", max_attempts=3) is True
    [message] = await consume_until(queue, topic, "g", "c2")
    assert (message.attempts, message.consumer, message.lane) == (3, "c2", "high")
    assert await queue.retry_or_dead_letter(message, "g", "boom 3", max_attempts=3) is False
    assert await queue.depth(topic, "g") == 0
    assert await queue.consume(topic, "g", "c1", block_ms=100) == []

    [letter] = await queue.dead_letters(topic)
    assert (letter.topic, letter.payload, letter.error, letter.attempts) == (topic, {"job": "flaky"}, "boom 3", 3)
    assert (letter.partition, letter.lane) == (message.partition, "high")
    assert letter.failed_at.tzinfo is not None

    assert await queue.requeue_dead_letter(topic, letter.id) is True
    assert await queue.dead_letters(topic) == []
    assert await queue.requeue_dead_letter(topic, letter.id) is False
    assert await queue.requeue_dead_letter(topic, "not-an-id") is False
    [again] = await consume_until(queue, topic, "g", "c1")
    assert (again.payload, again.attempts, again.partition, again.lane) == (
        {"job": "flaky"},
        1,
        message.partition,
        "high",
    )
    await queue.ack(again, "g")


async def test_dead_letters_newest_first(queue: WorkQueue, topic: str) -> None:
    for n in range(3):
        await queue.publish(topic, {"n": n}, key=f"k{n}")
    for message in sorted(await consume_until(queue, topic, "g", "c1", want=3), key=lambda m: m.payload["n"]):
        assert await queue.retry_or_dead_letter(message, "g", f"bad {message.payload['n']}", max_attempts=1) is False
    assert [d.error for d in await queue.dead_letters(topic)] == ["bad 2", "bad 1", "bad 0"]
    assert [d.error for d in await queue.dead_letters(topic, limit=1)] == ["bad 2"]


async def test_depth_counts_undelivered_and_pending(queue: WorkQueue, topic: str) -> None:
    assert await queue.consume(topic, "other", "c", block_ms=0) == []
    for n in range(6):
        await queue.publish(topic, {"n": n}, key=f"k{n}", lane=("high", "normal", "bulk")[n % 3])
    assert await queue.depth(topic, "g") == 6
    taken = await queue.consume(topic, "g", "c1", count=4, block_ms=0)
    assert await queue.depth(topic, "g") == 6
    for message in taken:
        await queue.ack(message, "g")
    assert await queue.depth(topic, "g") == 2
    assert await queue.depth(topic, "other") == 6


async def test_memory_drops_entries_every_group_has() -> None:
    queue = MemoryWorkQueue(partitions=1)
    for group in ("a", "b"):
        await queue.consume("t", group, "c", block_ms=0)
    for n in range(300):
        await queue.publish("t", {"n": n}, key="same")
    for message in await queue.consume("t", "a", "c", count=300, block_ms=0):
        await queue.ack(message, "a")
    await queue.consume("t", "b", "c", count=250, block_ms=0)
    stream = queue._streams[("t", 0, "normal")]
    assert len(stream.entries) == 50  # not yet delivered to "b"; delivered ones live in its pending list
    assert await queue.depth("t", "b") == 300


# --- Redis only ---------------------------------------------------------------------------------

KILLED_CONSUMER = textwrap.dedent(
    """
    import asyncio, sys
    from reels.ports.queue import RedisWorkQueue

    async def main():
        queue = RedisWorkQueue.from_url(sys.argv[1], partitions=int(sys.argv[3]))
        messages = await queue.consume(sys.argv[2], "media-workers", "doomed", count=1, block_ms=10_000)
        print("took", messages[0].id, flush=True)
        await asyncio.sleep(3600)  # "transcoding" until SIGKILLed

    asyncio.run(main())
    """
)


async def test_redis_job_of_a_sigkilled_worker_is_claimed(redis_url: str, topic: str) -> None:
    queue = RedisWorkQueue.from_url(redis_url, **OPTIONS)
    try:
        message_id = await queue.publish(topic, {"reel": 7}, key="reel:7")
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", KILLED_CONSUMER, redis_url, topic, str(PARTITIONS), stdout=asyncio.subprocess.PIPE
        )
        try:
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), 30)
            assert line.decode().split() == ["took", message_id]
        finally:
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
        assert await queue.consume(topic, "media-workers", "survivor", block_ms=0) == []
        [claimed] = await consume_until(queue, topic, "media-workers", "survivor", claim_idle_ms=100)
        assert (claimed.id, claimed.payload, claimed.attempts) == (message_id, {"reel": 7}, 2)
        await queue.ack(claimed, "media-workers")
        assert await queue.depth(topic, "media-workers") == 0
    finally:
        await queue.close()


async def test_redis_trims_only_what_every_group_acked(redis_url: str, topic: str) -> None:
    queue = RedisWorkQueue.from_url(redis_url, **OPTIONS, trim_interval_s=0)
    raw = Redis.from_url(redis_url, decode_responses=True)
    try:
        for group in ("fast", "slow"):
            await queue.consume(topic, group, "c", block_ms=0)
        for n in range(300):
            await queue.publish(topic, {"n": n}, key="same")
        for message in await consume_until(queue, topic, "fast", "c", want=300, count=300):
            await queue.ack(message, "fast")
        slow = await consume_until(queue, topic, "slow", "c", want=250, count=250)
        for message in slow[:200]:
            await queue.ack(message, "slow")
        await queue.consume(topic, "fast", "c", block_ms=0)  # trims (trim_interval_s=0)
        [stream] = [key async for key in raw.scan_iter(f"q:{{{topic}:*}}:normal") if await raw.xlen(key)]
        assert 100 <= await raw.xlen(stream) < 300  # "slow" still needs its last 100
        rest = await consume_until(queue, topic, "slow", "c2", want=100, count=100, claim_idle_ms=1)
        assert sorted(m.payload["n"] for m in rest) == list(range(200, 300))
    finally:
        await raw.aclose()
        await queue.close()
