"""KeyValue contract: the in-process and Redis adapters behave the same."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from reels.ports.kv import KeyValue, MemoryKeyValue, RedisKeyValue, WrongTypeError

# One Redis, and a 3-master Redis Cluster (tests/services/redis_cluster.py).
REDIS_URL_FIXTURE = {"redis": "redis_url", "redis-cluster": "redis_cluster_url"}


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def kv(request: pytest.FixtureRequest) -> AsyncIterator[KeyValue]:
    store: KeyValue
    if request.param == "memory":
        store = MemoryKeyValue()
    else:
        store = RedisKeyValue.from_url(request.getfixturevalue(REDIS_URL_FIXTURE[request.param]))
    await store.ping()  # as Platform.start does: a cluster client is set up before concurrent use
    yield store
    await store.close()


@pytest.fixture
def key() -> Callable[[str], str]:
    """Fresh key names: tests share one Redis."""
    prefix = uuid.uuid4().hex

    def make(name: str) -> str:
        return f"{prefix}:{name}"

    return make


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_strings(kv: KeyValue, key: Callable[[str], str]) -> None:
    assert await kv.get(key("a")) is None
    assert await kv.set(key("a"), "1") is True
    assert await kv.set(key("b"), "2") is True
    assert await kv.get(key("a")) == "1"
    assert await kv.get_many([key("a"), key("missing"), key("b")]) == ["1", None, "2"]
    assert await kv.get_many([]) == []
    assert await kv.delete(key("a"), key("missing"), key("b")) == 2
    assert await kv.get_many([key("a"), key("b")]) == [None, None]


async def test_set_only_if_absent_is_a_lock(kv: KeyValue, key: Callable[[str], str]) -> None:
    assert await kv.set(key("lock"), "worker-1", ttl_s=30, only_if_absent=True) is True
    assert await kv.set(key("lock"), "worker-2", ttl_s=30, only_if_absent=True) is False
    assert await kv.get(key("lock")) == "worker-1"
    await kv.delete(key("lock"))
    assert await kv.set(key("lock"), "worker-2", only_if_absent=True) is True


async def test_ttl_expires_and_plain_set_clears_it(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.set(key("short"), "x", ttl_s=0.05)
    await kv.set(key("long"), "y", ttl_s=60)
    await kv.set(key("cleared"), "z", ttl_s=0.05)
    await kv.set(key("cleared"), "z")  # a SET without ttl_s drops the TTL
    await eventually(lambda: _is_none(kv.get(key("short"))))
    assert await kv.get(key("long")) == "y"
    assert await kv.get(key("cleared")) == "z"
    # An expired key is absent for set-if-absent too (view de-duplication relies on it).
    assert await kv.set(key("short"), "again", only_if_absent=True) is True


async def test_get_with_a_ttl_keeps_a_found_key_alive(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.set(key("session"), "list", ttl_s=0.05)
    await kv.set(key("plain"), "kept")
    assert await kv.get(key("session"), ttl_s=60) == "list"  # now lives a minute, not 50 ms
    assert await kv.get(key("missing"), ttl_s=60) is None
    assert await kv.get(key("missing")) is None  # a miss creates nothing
    await kv.set(key("gone"), "x", ttl_s=0.05)
    await eventually(lambda: _is_none(kv.get(key("gone"))))  # the same 50 ms, left to run out
    assert await kv.get(key("session")) == "list"
    assert await kv.get(key("plain"), ttl_s=0.05) == "kept"  # a key without a TTL takes one
    await eventually(lambda: _is_none(kv.get(key("plain"))))


async def _is_none(value: Awaitable[object]) -> bool:
    return await value is None


async def test_counter_with_window(kv: KeyValue, key: Callable[[str], str]) -> None:
    assert await kv.incr(key("n")) == 1
    assert await kv.incr(key("n"), 5) == 6
    assert await kv.incr(key("n"), -2) == 4
    assert await kv.incr(key("w"), ttl_s=0.1) == 1
    assert await kv.incr(key("w"), ttl_s=0.1) == 2
    await eventually(lambda: _is_none(kv.get(key("w"))))
    assert await kv.incr(key("w"), ttl_s=60) == 1
    assert await kv.get(key("n")) == "4"


async def test_sorted_sets(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.zadd(key("z"), {"a": 1.0, "b": 3.0, "c": 2.0, "d": 2.0})
    await kv.zadd(key("z"), {"a": 3.5})  # a new score for a member that is there
    assert await kv.zrange_desc(key("z"), 0, -1) == [("a", 3.5), ("b", 3.0), ("d", 2.0), ("c", 2.0)]
    assert await kv.zrange_desc(key("z"), 1, 2) == [("b", 3.0), ("d", 2.0)]
    assert await kv.zrange_desc(key("z"), -2, -1) == [("d", 2.0), ("c", 2.0)]
    assert await kv.zrange_desc(key("z"), 3, 10) == [("c", 2.0)]
    assert await kv.zrange_desc(key("z"), 5, 10) == []
    assert await kv.zrem(key("z"), "a", "missing") == 1
    assert await kv.zrange_desc(key("z"), 0, 0) == [("b", 3.0)]
    assert await kv.zrange_desc(key("missing"), 0, -1) == []
    assert await kv.zrem(key("z"), "b", "c", "d") == 3
    await kv.zadd(key("z"), {})  # nothing to add is not an error
    assert await kv.zrange_desc(key("z"), 0, -1) == []


async def test_hashes_of_numbers(kv: KeyValue, key: Callable[[str], str]) -> None:
    assert await kv.hgetall_many([key("h"), key("missing")]) == [{}, {}]
    assert await kv.hincr(key("h"), {"views": 1, "watch_s": 2.5}) == {"views": 1.0, "watch_s": 2.5}
    assert await kv.hincr(key("h"), {"views": 2, "likes": 1}) == {"views": 3.0, "likes": 1.0}
    assert await kv.hincr(key("h"), {}) == {}
    assert await kv.hgetall_many([key("missing"), key("h")]) == [{}, {"views": 3.0, "watch_s": 2.5, "likes": 1.0}]
    assert await kv.hgetall_many([]) == []


async def test_hashes_of_numbers_in_one_batch(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.hincr(key("a"), {"views": 1})
    new = await kv.hincr_many({key("a"): {"views": 2, "watch_s": 0.25}, key("b"): {"likes": -1}, key("c"): {}})
    assert new == {key("a"): {"views": 3.0, "watch_s": 0.25}, key("b"): {"likes": -1.0}}
    assert await kv.hincr_many({}) == {}
    assert await kv.hgetall_many([key("a"), key("b"), key("c")]) == [
        {"views": 3.0, "watch_s": 0.25},
        {"likes": -1.0},
        {},
    ]
    # Applied all the same without reading the new values back.
    assert await kv.hincr_many({key("a"): {"views": 1, "watch_s": 0.5}, key("c"): {"n": 0.1}}, returning=False) == {}
    assert await kv.hincr_many({}, returning=False) == {}
    assert await kv.hgetall_many([key("a"), key("c")]) == [{"views": 4.0, "watch_s": 0.75}, {"n": 0.1}]


async def test_batches_of_many_keys(kv: KeyValue, key: Callable[[str], str]) -> None:
    """More keys than one script call takes on one Redis (RedisKeyValue.KEYS_PER_SCRIPT)."""
    keys = [key(f"h{n}") for n in range(1200)]
    new = await kv.hincr_many({name: {"n": n, "half": n / 2} for n, name in enumerate(keys)})
    assert new == {name: {"n": float(n), "half": n / 2} for n, name in enumerate(keys)}
    sets = [key(f"z{n}") for n in range(1200)]
    await kv.zadd_capped({name: {"a": n, "b": -n, "c": 0.5} for n, name in enumerate(sets)}, keep=1)
    tops = [await kv.zrange_desc(name, 0, -1) for name in sets[:3] + sets[-2:]]
    assert tops == [[("c", 0.5)], [("a", 1.0)], [("a", 2.0)], [("a", 1198.0)], [("a", 1199.0)]]
    # Read back in order, over several of the Redis adapter's pipelines (HASHES_PER_PIPELINE).
    assert await kv.hgetall_many([*keys, key("missing")]) == [
        *({"n": float(n), "half": n / 2} for n in range(1200)),
        {},
    ]
    strings = [key(f"s{n}") for n in range(1200)]
    await kv.set_many({name: str(n) for n, name in enumerate(strings)}, ttl_s=60)
    assert await kv.get_many(strings) == [str(n) for n in range(1200)]


async def test_batched_hash_increments_are_atomic_under_concurrency(kv: KeyValue, key: Callable[[str], str]) -> None:
    await asyncio.gather(*(kv.hincr_many({key("h"): {"n": 1, "m": 0.5}, key("g"): {"n": 2}}) for _ in range(40)))
    assert await kv.hgetall_many([key("h"), key("g")]) == [{"n": 40.0, "m": 20.0}, {"n": 80.0}]


async def test_set_many(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.set(key("old"), "0", ttl_s=0.1)
    await kv.set_many({key("old"): "1", key("new"): "2"})
    await kv.set_many({key("short"): "3"}, ttl_s=0.1)
    await kv.set_many({})
    assert await kv.get_many([key("old"), key("new"), key("short")]) == ["1", "2", "3"]
    await eventually(lambda: _is_none(kv.get(key("short"))))
    assert await kv.get_many([key("old"), key("new")]) == ["1", "2"]  # a plain set clears the TTL


async def test_set_many_only_where_absent(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.set(key("there"), "old")
    await kv.set_many({key("there"): "new", key("absent"): "new"}, ttl_s=60, only_if_absent=True)
    assert await kv.get_many([key("there"), key("absent")]) == ["old", "new"]
    await kv.set_many({key("short"): "x"}, ttl_s=0.1, only_if_absent=True)
    await eventually(lambda: _is_none(kv.get(key("short"))))


async def test_zadd_capped_keeps_the_highest(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.zadd(key("log"), {"a": 1.0, "b": 5.0})
    await kv.zadd_capped({key("log"): {"c": 3.0, "d": 3.0, "e": 0.5}, key("other"): {"x": 1.0}}, keep=3)
    assert await kv.zrange_desc(key("log"), 0, -1) == [("b", 5.0), ("d", 3.0), ("c", 3.0)]
    await kv.zadd_capped({key("log"): {"a": 9.0}}, keep=3)
    # ties go as in zrange_desc: of c and d (both 3.0), c ranks lower and is dropped
    assert await kv.zrange_desc(key("log"), 0, -1) == [("a", 9.0), ("b", 5.0), ("d", 3.0)]
    assert await kv.zrange_desc(key("other"), 0, -1) == [("x", 1.0)]
    await kv.zadd_capped({key("empty"): {}}, keep=3)
    assert await kv.zrange_desc(key("empty"), 0, -1) == []
    await kv.zadd_capped({}, keep=3)


async def test_zadd_capped_renews_the_ttl(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.zadd_capped({key("kept"): {"a": 1.0}, key("short"): {"a": 1.0}}, keep=10)
    await kv.zadd_capped({key("short"): {"b": 2.0}}, keep=10, ttl_s=0.1)
    await eventually(lambda: _is_empty(kv.zrange_desc(key("short"), 0, -1)))
    assert await kv.zrange_desc(key("kept"), 0, -1) == [("a", 1.0)]  # no TTL given: none set


async def test_hash_increments_are_atomic_under_concurrency(kv: KeyValue, key: Callable[[str], str]) -> None:
    await asyncio.gather(*(kv.hincr(key("h"), {"n": 1, "m": 0.5}) for _ in range(40)))
    assert await kv.hgetall_many([key("h")]) == [{"n": 40.0, "m": 20.0}]


async def test_expire_gives_any_key_a_ttl(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.zadd(key("z"), {"m": 1.0})
    await kv.hincr(key("h"), {"n": 1})
    assert await kv.expire(key("missing"), 60) is False
    assert await kv.expire(key("z"), 0.1) is True
    assert await kv.expire(key("h"), 0.1) is True
    await eventually(lambda: _is_empty(kv.zrange_desc(key("z"), 0, -1)))
    await eventually(lambda: _is_empty(kv.hgetall_many([key("h")])))


async def _is_empty(result: Awaitable[list[Any]]) -> bool:
    found = await result
    return found == [] or found == [{}]


async def test_token_bucket_allows_burst_then_limits(kv: KeyValue, key: Callable[[str], str]) -> None:
    rate = 20.0
    results = [await kv.take_token(key("bucket"), rate_per_s=rate, burst=3) for _ in range(3)]
    assert results == [(1, 0.0)] * 3
    taken, retry_after = await kv.take_token(key("bucket"), rate_per_s=rate, burst=3)
    assert taken == 0
    assert 0 < retry_after <= 1 / rate + 1e-6
    await eventually(lambda: _allowed(kv.take_token(key("bucket"), rate_per_s=rate, burst=3)))


async def _allowed(result: Awaitable[tuple[int, float]]) -> bool:
    return (await result)[0] == 1


async def test_token_bucket_gives_as_many_tokens_as_it_holds_up_to_the_ask(
    kv: KeyValue, key: Callable[[str], str]
) -> None:
    rate = 0.001  # nothing refills during the test
    assert await kv.take_token(key("bucket"), rate_per_s=rate, burst=10, up_to=4) == (4, 0.0)
    assert await kv.take_token(key("bucket"), rate_per_s=rate, burst=10, up_to=4) == (4, 0.0)
    assert await kv.take_token(key("bucket"), rate_per_s=rate, burst=10, up_to=4) == (2, 0.0)
    taken, retry_after = await kv.take_token(key("bucket"), rate_per_s=rate, burst=10, up_to=4)
    assert taken == 0
    assert retry_after > 0


async def test_token_bucket_is_atomic_under_concurrency(kv: KeyValue, key: Callable[[str], str]) -> None:
    results = await asyncio.gather(
        *(kv.take_token(key("shared"), rate_per_s=0.001, burst=10, up_to=n % 3 + 1) for n in range(40))
    )
    assert sum(taken for taken, _ in results) == 10


async def test_expire_if_equal_renews_only_the_holders_lease(kv: KeyValue, key: Callable[[str], str]) -> None:
    assert await kv.set(key("lease"), "me", ttl_s=0.2, only_if_absent=True)
    assert await kv.set(key("unrenewed"), "me", ttl_s=0.2)
    assert await kv.expire_if_equal(key("lease"), "someone-else", 60) is False
    assert await kv.expire_if_equal(key("lease"), "me", 60) is True
    assert await kv.expire_if_equal(key("missing"), "me", 60) is False
    await eventually(lambda: _is_none(kv.get(key("unrenewed"))))  # past the first TTL
    assert await kv.get(key("lease")) == "me"  # only the renewal keeps it


async def test_wrong_type(kv: KeyValue, key: Callable[[str], str]) -> None:
    await kv.set(key("s"), "1")
    await kv.zadd(key("z"), {"m": 1.0})
    await kv.take_token(key("bucket"), rate_per_s=1, burst=1)
    wrong_uses = (
        kv.zadd(key("s"), {"m": 1.0}),
        kv.get(key("z")),
        kv.incr(key("bucket")),
        kv.hincr(key("z"), {"n": 1}),
        kv.hincr_many({key("z"): {"n": 1}}),
        kv.zadd_capped({key("s"): {"m": 1.0}}, keep=1),
    )
    for wrong_use in wrong_uses:
        with pytest.raises(Exception) as error:  # WrongTypeError in memory, ResponseError from Redis
            await wrong_use
        assert "WRONGTYPE" in str(error.value) or isinstance(error.value, WrongTypeError)


async def test_ping(kv: KeyValue) -> None:
    await kv.ping()


# --- in-process adapter only: exact expiry with an injected clock ----------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_ttl_boundaries_with_a_clock() -> None:
    clock = FakeClock()
    kv = MemoryKeyValue(clock=clock)
    await kv.set("k", "v", ttl_s=10)
    assert await kv.incr("window", ttl_s=5) == 1
    clock.now += 4.999
    assert await kv.get("k") == "v"
    assert await kv.incr("window", ttl_s=5) == 2  # a running window is not extended
    clock.now += 0.001
    assert await kv.get("window") is None
    clock.now += 5
    assert await kv.get("k") is None


async def test_memory_forgets_expired_keys_nobody_reads() -> None:
    clock = FakeClock()
    kv = MemoryKeyValue(clock=clock)
    for n in range(100):
        await kv.set(f"seen:{n}", "1", ttl_s=1, only_if_absent=True)
    clock.now += 2
    await kv.set("other", "1")
    assert kv._data.keys() == {"other"}


@pytest.mark.services
async def test_redis_replaces_connections_the_server_closed_while_idle(
    redis_url: str, key: Callable[[str], str]
) -> None:
    """The pool checks a connection at check-out without a read (reels.ports.redis_client): one
    the server closed while it sat idle is opened again before the next command goes out."""
    store = RedisKeyValue.from_url(redis_url)
    try:
        await asyncio.gather(*(store.set(key(f"k{n}"), str(n)) for n in range(5)))  # several pooled connections
        admin = Redis.from_url(redis_url)
        try:
            assert await admin.client_kill_filter(_type="normal", skipme=True) >= 5
        finally:
            await admin.aclose()
        assert await asyncio.gather(*(store.get(key(f"k{n}")) for n in range(5))) == [str(n) for n in range(5)]
    finally:
        await store.close()
