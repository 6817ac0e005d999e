"""Key-value port: counters, caches, sorted sets, token-bucket rate limits and short locks.

Values are strings (hash fields too); sorted-set scores are floats. Every command touches one
key (the `*_many` calls pipeline single-key commands), so the Redis adapter keeps working on
Redis Cluster. TTLs are in seconds and may be fractional; both adapters really expire keys.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from redis.asyncio import Redis

from reels.settings import Settings


class WrongTypeError(TypeError):
    """The key holds another kind of value (string, hash or sorted set)."""


class KeyValue(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False) -> bool:
        """Store `value` (dropping any TTL unless `ttl_s` is given); False when `only_if_absent`
        and the key exists (use it for locks and de-duplication)."""
        ...

    async def delete(self, *keys: str) -> int:
        """How many of the keys existed."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[str | None]: ...

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        """Add to an integer counter; `ttl_s` is set only when the key has no TTL yet, so a
        counter created with it is a fixed window that starts at its first increment."""
        ...

    async def hash_get_all(self, key: str) -> dict[str, str]: ...

    async def hash_get_all_many(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """One round trip for all keys; a missing key gives {}."""
        ...

    async def hash_set(self, key: str, mapping: Mapping[str, str], *, ttl_s: float | None = None) -> None:
        """Set fields (others stay); `ttl_s` (re)sets the whole hash's TTL."""
        ...

    async def hash_incr(self, key: str, field: str, amount: int) -> int: ...

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None: ...

    async def zincr(self, key: str, member: str, amount: float) -> float: ...

    async def zrange_desc(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        """Members by score, highest first, ties by member descending; `stop` is inclusive and
        negative indexes count from the end (Redis ZRANGE ... REV semantics)."""
        ...

    async def zrem(self, key: str, *members: str) -> int: ...

    async def take_token(self, key: str, *, rate_per_s: float, burst: int) -> tuple[bool, float]:
        """Atomically take one token from a bucket refilled at `rate_per_s` up to `burst`.

        Returns (allowed, retry_after_s): retry_after_s is 0 when allowed, else how long until a
        token is there."""
        ...

    async def expire(self, key: str, ttl_s: float) -> bool:
        """False when the key does not exist."""
        ...

    async def expire_if_equal(self, key: str, value: str, ttl_s: float) -> bool:
        """Atomically renew the TTL only while the key still holds `value`: how the holder of a
        lease (a set-if-absent key naming its owner) keeps it without taking over another's."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def from_settings(settings: Settings) -> KeyValue:
    if settings.redis_url:
        return RedisKeyValue.from_url(settings.redis_url)
    return MemoryKeyValue()


def _check_bucket(rate_per_s: float, burst: int) -> None:
    if rate_per_s <= 0 or burst < 1:
        raise ValueError(f"token bucket needs rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")


def _bucket_ttl_s(rate_per_s: float, burst: int) -> float:
    # An idle bucket is full again after burst / rate seconds; its state is worthless after that.
    return burst / rate_per_s + 1


# --- in-process adapter ---------------------------------------------------------------------


class _Hash(dict[str, str]):
    pass


class _SortedSet(dict[str, float]):
    pass


_Value = str | _Hash | _SortedSet
_V = TypeVar("_V", str, _Hash, _SortedSet)
_Collection = TypeVar("_Collection", _Hash, _SortedSet)


class MemoryKeyValue:
    """Dict-backed adapter for one process. Operations never await, so each is atomic.

    Expired keys are dropped on the next operation (a heap ordered by expiry time), so
    de-duplication keys that are never read again do not pile up. `clock` (monotonic seconds)
    is injectable for tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, _Value] = {}
        self._expires_at: dict[str, float] = {}
        self._expiry_heap: list[tuple[float, str]] = []

    def _purge_expired(self) -> None:
        now = self._clock()
        while self._expiry_heap and self._expiry_heap[0][0] <= now:
            when, key = heapq.heappop(self._expiry_heap)
            if self._expires_at.get(key) == when:  # else the TTL changed since: a stale heap item
                del self._expires_at[key]
                del self._data[key]

    def _set_ttl(self, key: str, ttl_s: float) -> None:
        when = self._clock() + ttl_s
        self._expires_at[key] = when
        heapq.heappush(self._expiry_heap, (when, key))

    def _read(self, key: str, kind: type[_V]) -> _V | None:
        self._purge_expired()
        value = self._data.get(key)
        if value is None or isinstance(value, kind):
            return value
        raise WrongTypeError(f"key {key!r} holds a {type(value).__name__.strip('_')}, not a {kind.__name__.strip('_')}")

    def _write(self, key: str, kind: type[_Collection]) -> _Collection:
        value = self._read(key, kind)
        if value is None:
            value = self._data[key] = kind()
        return value

    def _remove(self, key: str) -> bool:
        self._expires_at.pop(key, None)
        return self._data.pop(key, None) is not None

    async def get(self, key: str) -> str | None:
        return self._read(key, str)

    async def set(self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False) -> bool:
        self._purge_expired()
        if only_if_absent and key in self._data:
            return False
        self._remove(key)
        self._data[key] = value
        if ttl_s is not None:
            self._set_ttl(key, ttl_s)
        return True

    async def delete(self, *keys: str) -> int:
        self._purge_expired()
        return sum(self._remove(key) for key in keys)

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return [self._read(key, str) for key in keys]

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        value = int(self._read(key, str) or 0) + amount
        self._data[key] = str(value)
        if ttl_s is not None and key not in self._expires_at:
            self._set_ttl(key, ttl_s)
        return value

    async def hash_get_all(self, key: str) -> dict[str, str]:
        return dict(self._read(key, _Hash) or {})

    async def hash_get_all_many(self, keys: Sequence[str]) -> list[dict[str, str]]:
        return [dict(self._read(key, _Hash) or {}) for key in keys]

    async def hash_set(self, key: str, mapping: Mapping[str, str], *, ttl_s: float | None = None) -> None:
        if not mapping:
            return
        self._write(key, _Hash).update(mapping)
        if ttl_s is not None:
            self._set_ttl(key, ttl_s)

    async def hash_incr(self, key: str, field: str, amount: int) -> int:
        fields = self._write(key, _Hash)
        value = int(fields.get(field, 0)) + amount
        fields[field] = str(value)
        return value

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        if mapping:
            self._write(key, _SortedSet).update({member: float(score) for member, score in mapping.items()})

    async def zincr(self, key: str, member: str, amount: float) -> float:
        scores = self._write(key, _SortedSet)
        scores[member] = scores.get(member, 0.0) + amount
        return scores[member]

    async def zrange_desc(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        scores: Mapping[str, float] = self._read(key, _SortedSet) or {}
        ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)
        size = len(ranked)
        start = max(size + start, 0) if start < 0 else start
        stop = size + stop if stop < 0 else stop
        return ranked[start : stop + 1] if start <= stop else []

    async def zrem(self, key: str, *members: str) -> int:
        scores = self._read(key, _SortedSet)
        if scores is None:
            return 0
        removed = sum(scores.pop(member, None) is not None for member in members)
        if not scores:  # like Redis: an empty sorted set does not exist
            self._remove(key)
        return removed

    async def take_token(self, key: str, *, rate_per_s: float, burst: int) -> tuple[bool, float]:
        _check_bucket(rate_per_s, burst)
        state = self._read(key, _Hash)
        now = self._clock()
        if state is None:
            tokens = float(burst)
        else:
            tokens = min(float(burst), float(state["tokens"]) + max(0.0, now - float(state["ts"])) * rate_per_s)
        allowed = tokens >= 1
        retry_after = 0.0 if allowed else (1 - tokens) / rate_per_s
        if allowed:
            tokens -= 1
        self._data[key] = _Hash(tokens=repr(tokens), ts=repr(now))
        self._set_ttl(key, _bucket_ttl_s(rate_per_s, burst))
        return allowed, retry_after

    async def expire(self, key: str, ttl_s: float) -> bool:
        self._purge_expired()
        if key not in self._data:
            return False
        self._set_ttl(key, ttl_s)
        return True

    async def expire_if_equal(self, key: str, value: str, ttl_s: float) -> bool:
        if await self.get(key) != value:
            return False
        return await self.expire(key, ttl_s)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


# --- Redis adapter ---------------------------------------------------------------------------

# One key per bucket (a hash: tokens, ts), server time so API processes agree on the clock.
# Floats go back as strings: Lua numbers returned to Redis are truncated to integers.
_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl_ms = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = burst
if state[1] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
local allowed = 0
local retry_after = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_after = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return {allowed, string.format('%.6f', retry_after)}
"""


_EXPIRE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def _ms(ttl_s: float) -> int:
    return max(1, math.ceil(ttl_s * 1000))


class RedisKeyValue:
    def __init__(self, client: Redis) -> None:
        self._client = client
        self._take_token = client.register_script(_TAKE_TOKEN)
        self._expire_if_equal = client.register_script(_EXPIRE_IF_EQUAL)

    @classmethod
    def from_url(cls, url: str) -> RedisKeyValue:
        return cls(Redis.from_url(url, decode_responses=True))

    async def get(self, key: str) -> str | None:
        return await self._client.get(key)

    async def set(self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False) -> bool:
        done = await self._client.set(key, value, px=_ms(ttl_s) if ttl_s is not None else None, nx=only_if_absent)
        return bool(done)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.delete(key)
            return sum(await pipe.execute())

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            return list(await pipe.execute())

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        if ttl_s is None:
            return await self._client.incrby(key, amount)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.pexpire(key, _ms(ttl_s), nx=True)
            value, _ = await pipe.execute()
        return value

    async def hash_get_all(self, key: str) -> dict[str, str]:
        return await self._client.hgetall(key)

    async def hash_get_all_many(self, keys: Sequence[str]) -> list[dict[str, str]]:
        if not keys:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            return list(await pipe.execute())

    async def hash_set(self, key: str, mapping: Mapping[str, str], *, ttl_s: float | None = None) -> None:
        if not mapping:
            return
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=dict(mapping))
            if ttl_s is not None:
                pipe.pexpire(key, _ms(ttl_s))
            await pipe.execute()

    async def hash_incr(self, key: str, field: str, amount: int) -> int:
        return await self._client.hincrby(key, field, amount)

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        if mapping:
            await self._client.zadd(key, dict(mapping))

    async def zincr(self, key: str, member: str, amount: float) -> float:
        return await self._client.zincrby(key, amount, member)

    async def zrange_desc(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        rows = await self._client.zrange(key, start, stop, desc=True, withscores=True)
        return [(member, float(score)) for member, score in rows]

    async def zrem(self, key: str, *members: str) -> int:
        return await self._client.zrem(key, *members) if members else 0

    async def take_token(self, key: str, *, rate_per_s: float, burst: int) -> tuple[bool, float]:
        _check_bucket(rate_per_s, burst)
        allowed, retry_after = await self._take_token(
            keys=[key], args=[repr(float(rate_per_s)), burst, _ms(_bucket_ttl_s(rate_per_s, burst))]
        )
        return bool(allowed), float(retry_after)

    async def expire(self, key: str, ttl_s: float) -> bool:
        return bool(await self._client.pexpire(key, _ms(ttl_s)))

    async def expire_if_equal(self, key: str, value: str, ttl_s: float) -> bool:
        return bool(await self._expire_if_equal(keys=[key], args=[value, _ms(ttl_s)]))

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
