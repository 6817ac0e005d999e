"""The key-value port on Redis or a Redis Cluster (or anything speaking its protocol): the
production adapter. Every command and script touches one key, so it runs on a cluster as is.

What must happen together on one key runs as a script, not a MULTI pipeline: redis-py's asyncio
cluster client runs each command of a transaction in a thread of its own with a new event loop,
which made the aggregator's feature updates (`hincr`) cost ~10x the CPU on a cluster."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from reels.ports.kv.base import bucket_ttl_s, check_bucket
from reels.ports.redis_client import RedisClient, connect, register_script

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


# KEYS[1]: the counter; ARGV: amount, ttl in ms. The TTL is set once, when the key is created.
_INCR_WITH_TTL = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX')
return value
"""

# KEYS[1]: a hash; ARGV: field, amount, field, amount, ... Returns the new values as strings.
_HINCR = """
local values = {}
for i = 1, #ARGV, 2 do
  values[#values + 1] = redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
end
return values
"""


def _ms(ttl_s: float) -> int:
    return max(1, math.ceil(ttl_s * 1000))


class RedisKeyValue:
    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._take_token = register_script(client, _TAKE_TOKEN)
        self._expire_if_equal = register_script(client, _EXPIRE_IF_EQUAL)
        self._incr_with_ttl = register_script(client, _INCR_WITH_TTL)
        self._hincr = register_script(client, _HINCR)

    @classmethod
    def from_url(cls, url: str) -> RedisKeyValue:
        return cls(connect(url))

    async def get(self, key: str) -> str | None:
        value: str | None = await self._client.get(key)
        return value

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
            return int(await self._client.incrby(key, amount))
        return int(await self._incr_with_ttl(keys=[key], args=[amount, _ms(ttl_s)]))

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        if mapping:
            await self._client.zadd(key, dict(mapping))

    async def zrange_desc(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        rows = await self._client.zrange(key, start, stop, desc=True, withscores=True)
        return [(member, float(score)) for member, score in rows]

    async def zrem(self, key: str, *members: str) -> int:
        return await self._client.zrem(key, *members) if members else 0

    async def expire(self, key: str, ttl_s: float) -> bool:
        return bool(await self._client.pexpire(key, _ms(ttl_s)))

    async def hincr(self, key: str, amounts: Mapping[str, float]) -> dict[str, float]:
        if not amounts:
            return {}
        values = await self._hincr(
            keys=[key], args=[x for name, amount in amounts.items() for x in (name, repr(float(amount)))]
        )
        return {name: float(value) for name, value in zip(amounts, values, strict=True)}

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        if not keys:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            rows = await pipe.execute()
        return [{name: float(value) for name, value in row.items()} for row in rows]

    async def take_token(self, key: str, *, rate_per_s: float, burst: int) -> tuple[bool, float]:
        check_bucket(rate_per_s, burst)
        allowed, retry_after = await self._take_token(
            keys=[key], args=[repr(float(rate_per_s)), burst, _ms(bucket_ttl_s(rate_per_s, burst))]
        )
        return bool(allowed), float(retry_after)

    async def expire_if_equal(self, key: str, value: str, ttl_s: float) -> bool:
        return bool(await self._expire_if_equal(keys=[key], args=[value, _ms(ttl_s)]))

    async def ping(self) -> None:
        await self._client.ping()  # type: ignore[misc]  # redis-py types ping() for its sync and async clients at once

    async def close(self) -> None:
        await self._client.aclose()
