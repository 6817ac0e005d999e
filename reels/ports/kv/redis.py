"""The key-value port on Redis or a Redis Cluster (or anything speaking its protocol): the
production adapter. Every command and script touches one key (the batch scripts take many on one
Redis, one at a time on a cluster), so it runs on a cluster as is.

What must happen together on one key runs as a script, not a MULTI pipeline: redis-py's asyncio
cluster client runs each command of a transaction in a thread of its own with a new event loop,
which made the aggregator's feature updates (`hincr`) cost ~10x the CPU on a cluster."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from redis.asyncio.cluster import RedisCluster

from reels.ports.kv.base import bucket_ttl_s, check_bucket
from reels.ports.redis_client import RedisClient, connect, register_script

# One key per bucket (a hash: tokens, ts), server time so API processes agree on the clock.
# Floats go back as strings: Lua numbers returned to Redis are truncated to integers.
_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl_ms = tonumber(ARGV[3])
local up_to = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = burst
if state[1] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
local taken = math.min(up_to, math.floor(tokens))
local retry_after = 0
if taken >= 1 then
  tokens = tokens - taken
else
  taken = 0
  retry_after = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return {taken, string.format('%.6f', retry_after)}
"""


_EXPIRE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


# The batch scripts take any number of keys with, in ARGV, one JSON list holding each key's part
# (in KEYS order): on one Redis a batch is a few commands of many keys, on a cluster a command per
# key (see `_per_key_scripts`). Encoding one argument per field cost the client more than the
# round trips the batch saved.

# ARGV[1]: [{field: amount as a string}, ...]. Returns [{field: new value}, ...] as JSON.
_HINCR = """
local amounts = cjson.decode(ARGV[1])
local new = {}
for i, key in ipairs(KEYS) do
  local values = {}
  for name, amount in pairs(amounts[i]) do
    values[name] = redis.call('HINCRBYFLOAT', key, name, amount)
  end
  new[i] = values
end
return cjson.encode(new)
"""

# The same without the new values (`hincr_many(..., returning=False)`): HINCRBYFLOAT's replies are
# dropped here instead of encoded, sent and decoded.
_HINCR_QUIETLY = """
local amounts = cjson.decode(ARGV[1])
for i, key in ipairs(KEYS) do
  for name, amount in pairs(amounts[i]) do
    redis.call('HINCRBYFLOAT', key, name, amount)
  end
end
return 0
"""

# ARGV[1]: keep; ARGV[2]: TTL in ms (0: leave it); ARGV[3]: [{member: score as a string}, ...].
_ZADD_CAPPED = """
local keep = tonumber(ARGV[1])
local sets = cjson.decode(ARGV[3])
for i, key in ipairs(KEYS) do
  for member, score in pairs(sets[i]) do
    redis.call('ZADD', key, score, member)
  end
  redis.call('ZREMRANGEBYRANK', key, 0, -(keep + 1))
  if ARGV[2] ~= '0' then
    redis.call('PEXPIRE', key, ARGV[2])
  end
end
return 0
"""

# ARGV[1]: TTL in ms (0: none); ARGV[2]: 1 for only the absent keys (NX); ARGV[3]: [value, ...].
# A SET per key: MSET takes no TTL.
_SET = """
local values = cjson.decode(ARGV[3])
for i, key in ipairs(KEYS) do
  local command = {'SET', key, values[i]}
  if ARGV[1] ~= '0' then
    command[#command + 1] = 'PX'
    command[#command + 1] = ARGV[1]
  end
  if ARGV[2] == '1' then
    command[#command + 1] = 'NX'
  end
  redis.call(unpack(command))
end
return 0
"""

# Keys per script call on one Redis: a call blocks the server while it runs (~1 ms per 100 keys).
KEYS_PER_SCRIPT = 500
# Hashes read per pipeline: the client decodes a pipeline's replies without yielding the loop.
HASHES_PER_PIPELINE = 200


def _exact(parts: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, str]]:
    """Each key's numbers as strings that Redis parses back exactly (Lua's own numbers round to 14
    digits), keys without any left out. A batch repeats few values (small counts; one time for a
    whole log of watches), so each distinct number is written once: repr was most of the
    aggregator's cost of a flush's feature updates."""
    texts: dict[float, str] = {}
    exact = {}
    for key, numbers in parts.items():
        if not numbers:
            continue
        written = {}
        for name, number in numbers.items():
            text = texts.get(number)
            if text is None:
                text = repr(float(number))
                if number:  # 0.0 and -0.0 are one key with two texts
                    texts[number] = text
            written[name] = text
        exact[key] = written
    return exact


# KEYS[1]: the counter; ARGV: amount, ttl in ms. The TTL is set once, when the key is created.
_INCR_WITH_TTL = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX')
return value
"""


def _ms(ttl_s: float) -> int:
    return max(1, math.ceil(ttl_s * 1000))


class RedisKeyValue:
    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._take_token = register_script(client, _TAKE_TOKEN)
        self._expire_if_equal = register_script(client, _EXPIRE_IF_EQUAL)
        self._incr_with_ttl = register_script(client, _INCR_WITH_TTL)

    @classmethod
    def from_url(cls, url: str) -> RedisKeyValue:
        return cls(connect(url))

    async def get(self, key: str, *, ttl_s: float | None = None) -> str | None:
        value: str | None = await (self._client.get(key) if ttl_s is None else self._client.getex(key, px=_ms(ttl_s)))
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
        # One MGET (a cluster's client sends one a slot): a page's 20 counts cost 0.12 ms of CPU
        # this way against 0.21 ms as a pipeline of GETs.
        if not keys:
            return []
        if isinstance(self._client, RedisCluster):
            return await self._client.mget_nonatomic(list(keys))
        return list(await self._client.mget(list(keys)))

    async def set_many(
        self, values: Mapping[str, str], *, ttl_s: float | None = None, only_if_absent: bool = False
    ) -> None:
        await self._per_key_scripts(_SET, values, [_ms(ttl_s) if ttl_s is not None else 0, int(only_if_absent)])

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

    async def zadd_capped(
        self, sets: Mapping[str, Mapping[str, float]], *, keep: int, ttl_s: float | None = None
    ) -> None:
        ttl_ms = _ms(ttl_s) if ttl_s is not None else 0
        await self._per_key_scripts(_ZADD_CAPPED, _exact(sets), [keep, ttl_ms])

    async def expire(self, key: str, ttl_s: float) -> bool:
        return bool(await self._client.pexpire(key, _ms(ttl_s)))

    async def hincr(self, key: str, amounts: Mapping[str, float]) -> dict[str, float]:
        return (await self.hincr_many({key: amounts})).get(key, {})

    async def hincr_many(
        self, updates: Mapping[str, Mapping[str, float]], *, returning: bool = True
    ) -> dict[str, dict[str, float]]:
        amounts = _exact(updates)
        if not returning:
            await self._per_key_scripts(_HINCR_QUIETLY, amounts, [])
            return {}
        replies = await self._per_key_scripts(_HINCR, amounts, [])
        return {
            key: {name: float(value) for name, value in new.items()}
            for key, new in zip(amounts, (new for reply in replies for new in orjson.loads(reply)), strict=True)
        }

    async def _per_key_scripts(self, script: str, parts: Mapping[str, Any], args: list[Any]) -> list[Any]:
        """Run a batch script over `parts` ({key: its part}), all in one pipeline, each key's
        update atomic. By EVAL, not EVALSHA: a cluster pipeline cannot load a script a node lacks.
        On a cluster a call takes one key, so it touches one slot (redis-py routes it by that key);
        on one Redis a call takes up to KEYS_PER_SCRIPT keys. The replies come in call order."""
        keys = list(parts)
        per_call = 1 if isinstance(self._client, RedisCluster) else KEYS_PER_SCRIPT
        async with self._client.pipeline(transaction=False) as pipe:
            for start in range(0, len(keys), per_call):
                chunk = keys[start : start + per_call]
                pipe.eval(script, len(chunk), *chunk, *args, orjson.dumps([parts[key] for key in chunk]))
            return list(await pipe.execute()) if keys else []

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        hashes: list[dict[str, float]] = []
        # A pipeline a slice: decoding a feed list's ~1,500 hashes at once held the event loop
        # ~25 ms, and every request of the process waited behind it.
        for start in range(0, len(keys), HASHES_PER_PIPELINE):
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys[start : start + HASHES_PER_PIPELINE]:
                    pipe.hgetall(key)
                rows = await pipe.execute()
            hashes += [{name: float(value) for name, value in row.items()} for row in rows]
        return hashes

    async def take_token(self, key: str, *, rate_per_s: float, burst: int, up_to: int = 1) -> tuple[int, float]:
        check_bucket(rate_per_s, burst, up_to)
        taken, retry_after = await self._take_token(
            keys=[key], args=[repr(float(rate_per_s)), burst, _ms(bucket_ttl_s(rate_per_s, burst)), up_to]
        )
        return int(taken), float(retry_after)

    async def expire_if_equal(self, key: str, value: str, ttl_s: float) -> bool:
        return bool(await self._expire_if_equal(keys=[key], args=[value, _ms(ttl_s)]))

    async def ping(self) -> None:
        await self._client.ping()  # type: ignore[misc]  # redis-py types ping() for its sync and async clients at once

    async def close(self) -> None:
        await self._client.aclose()
