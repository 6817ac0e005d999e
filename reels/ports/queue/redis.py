"""Redis Streams work queue (Redis >= 7.0).

Keys. One stream per (topic, partition, lane): `q:{<topic>:<partition>}:<lane>`, and per
(topic, partition, group) a sorted set of deliveries waiting out a retry backoff:
`q:{<topic>:<partition>}:retry:<group>` (member "<lane number>|<id>", score = due time in ms).
The hash tag keeps a partition's keys in one Redis Cluster slot. On one Redis a consumer of
several partitions runs one script over all of them; on a cluster (`redis+cluster://`) it runs one
script per partition, all at once (each for a share of the count), so every script touches one
slot, and waits for new jobs in short XREAD blocks on one partition at a time (a job waits at most
CLUSTER_BLOCK_MS longer to be seen). There lanes order a partition's jobs; across
partitions a consumer takes them in turn. Dead letters go to one stream per topic,
`q:{<topic>}:dead` (capped at `dead_letter_limit`, oldest dropped).

Retries. A failed delivery stays pending (unacked) and its id goes into the retry set; when due,
`consume` XCLAIMs it, which counts a delivery, so `attempts` is Redis's delivery counter.

Trimming. XADD does not cap streams: a length cap cannot tell acked from unacked entries and
would silently drop jobs under a backlog. Instead `consume` trims each stream now and then up to
the oldest entry some group still needs (its oldest pending entry, else its last delivered one);
entries older than that were acked by every group. A consumer group nobody reads any more
therefore pins its streams: it shows in `depth()`; remove it with XGROUP DESTROY.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson  # payloads are decoded per message: several times faster than json's
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.typing import KeyT, StreamIdT

from reels.ports.queue.base import (
    DEFAULT_PARTITIONS,
    LANES,
    DeadLetter,
    Message,
    check_lane,
    partition_for,
    retry_delay_ms,
    rotated,
    selected_partitions,
)
from reels.ports.redis_client import RedisClient, connect, register_script

# KEYS: for each partition, in serving order: its high, normal and bulk streams, then its retry set.
# ARGV: group, consumer, count, claim_idle_ms.
# Returns {taken} or, when nothing was taken, {{}, last id of each stream (same order as KEYS),
# ms until the next retry is due or -1}; each taken row is
# {partition index in KEYS, lane number, id, payload, deliveries}.
_CONSUME = """
local group, consumer = ARGV[1], ARGV[2]
local remaining = tonumber(ARGV[3])
local claim_idle = ARGV[4]
local lanes, width = 3, 4
local partitions = #KEYS / width
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local taken = {}

local function stream_of(p, lane) return KEYS[p * width + lane] end
local function retries_of(p) return KEYS[p * width + width] end
local function deliveries(stream, id) return redis.call('XPENDING', stream, group, id, id, 1)[1][4] end
local function take(p, lane, entry, count)
  taken[#taken + 1] = {p, lane, entry[1], entry[2][2], count}
  remaining = remaining - 1
end

for p = 0, partitions - 1 do
  for lane = 1, lanes do
    -- From id 0: a new group gets everything still in the stream. BUSYGROUP (exists) is fine.
    redis.pcall('XGROUP', 'CREATE', stream_of(p, lane), group, '0', 'MKSTREAM')
  end
end

-- 1. deliveries whose retry backoff is over
for p = 0, partitions - 1 do
  if remaining == 0 then break end
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', retries_of(p), '-inf', now_ms, 'LIMIT', 0, remaining)) do
    redis.call('ZREM', retries_of(p), member)
    local lane, id = tonumber(string.sub(member, 1, 1)), string.sub(member, 3)
    local claimed = redis.call('XCLAIM', stream_of(p, lane), group, consumer, 0, id)
    if claimed[1] then take(p, lane, claimed[1], deliveries(stream_of(p, lane), id)) end
  end
end

-- 2. deliveries idle for claim_idle_ms: their consumer died or hangs
for lane = 1, lanes do
  for p = 0, partitions - 1 do
    local cursor = '0-0'
    while remaining > 0 do
      local reply = redis.call('XAUTOCLAIM', stream_of(p, lane), group, consumer, claim_idle, cursor,
                               'COUNT', remaining)
      for _, entry in ipairs(reply[2]) do
        redis.call('ZREM', retries_of(p), lane .. '|' .. entry[1])
        take(p, lane, entry, deliveries(stream_of(p, lane), entry[1]))
      end
      cursor = reply[1]
      if cursor == '0-0' then break end
    end
  end
end

-- 3. new entries, higher lanes first
for lane = 1, lanes do
  for p = 0, partitions - 1 do
    if remaining == 0 then break end
    local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', remaining,
                             'STREAMS', stream_of(p, lane), '>')
    if reply then
      for _, entry in ipairs(reply[1][2]) do take(p, lane, entry, 1) end
    end
  end
end
if #taken > 0 then return {taken} end

local ends, next_due = {}, -1
for p = 0, partitions - 1 do
  for lane = 1, lanes do
    local last = redis.call('XREVRANGE', stream_of(p, lane), '+', '-', 'COUNT', 1)[1]
    ends[#ends + 1] = last and last[1] or '0-0'
  end
  local first = redis.call('ZRANGE', retries_of(p), 0, 0, 'WITHSCORES')
  if first[2] then
    local wait = tonumber(first[2]) - now_ms
    if next_due < 0 or wait < next_due then next_due = wait end
  end
end
return {taken, ends, next_due}
"""

# Shared head of the scripts that act only for the consumer still holding the delivery.
# KEYS[1]: stream; ARGV: group, consumer, id.
_IF_HELD = """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)[1]
if not held or held[2] ~= ARGV[2] then return 0 end
"""

_TOUCH = (
    _IF_HELD
    + """
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""
)

# KEYS[2]: retry set; ARGV[4]: retry member; ARGV[5]: backoff in ms. JUSTID resets the idle
# clock without counting a delivery, so the entry is not claimed as stuck while it waits.
_RETRY = (
    _IF_HELD
    + """
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[5]), ARGV[4])
return 1
"""
)

_SETTLE = (
    _IF_HELD
    + """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
return 1
"""
)

# KEYS[1]: stream, KEYS[2]: its retry set; ARGV: group, id, retry member. A script rather than a
# MULTI pipeline, which redis-py's asyncio cluster client runs a thread per command.
_ACK = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
"""

# KEYS[1]: stream, KEYS[2]: its retry set; ARGV: group, the ids as a JSON list, the retry members
# to remove as a JSON list. A batch's ids travel as one argument: an argument per id (XACK's own
# form) cost the client ~1 µs a message to pack, the most of an aggregator's acknowledgement.
# Unpacked a thousand at a time: Lua's stack takes a few thousand values.
_ACK_MANY = """
local ids = cjson.decode(ARGV[2])
for i = 1, #ids, 1000 do
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids, i, math.min(i + 999, #ids)))
end
local members = cjson.decode(ARGV[3])
for i = 1, #members, 1000 do
  redis.call('ZREM', KEYS[2], unpack(members, i, math.min(i + 999, #members)))
end
return 0
"""

# KEYS[1]: stream. Deletes the entries every group has acked (see the module docstring).
_TRIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local function parse(id)
  local millis, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(millis), tonumber(seq)
end
local function older(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local keep_from
for _, fields in ipairs(groups) do
  local info = {}
  for i = 1, #fields, 2 do info[fields[i]] = fields[i + 1] end
  local needed = info['last-delivered-id']
  if info['pending'] > 0 then needed = redis.call('XPENDING', KEYS[1], info['name'])[2] end
  if not keep_from or older(needed, keep_from) then keep_from = needed end
end
return redis.call('XTRIM', KEYS[1], 'MINID', '~', keep_from)
"""

# KEYS[1]: stream; ARGV[1]: group. Entries the group has not acked: pending + not yet delivered.
_DEPTH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for _, fields in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #fields, 2 do info[fields[i]] = fields[i + 1] end
  if info['name'] == ARGV[1] then
    local lag = info['lag']
    if not lag then  -- Redis cannot tell after deletions inside the range: count
      lag = #redis.call('XRANGE', KEYS[1], '(' .. info['last-delivered-id'], '+')
    end
    return info['pending'] + lag
  end
end
return redis.call('XLEN', KEYS[1])
"""

# How long one wait for new jobs blocks on a cluster before the consume script looks again.
CLUSTER_BLOCK_MS = 100

_STREAM_ID = re.compile(r"^\d+-\d+$")


def _stream_key(topic: str, partition: int, lane: str) -> str:
    return f"q:{{{topic}:{partition}}}:{lane}"


def _retry_key(topic: str, partition: int, group: str) -> str:
    return f"q:{{{topic}:{partition}}}:retry:{group}"


def _dead_key(topic: str) -> str:
    return f"q:{{{topic}}}:dead"


def _partition_keys(topic: str, partition: int, group: str) -> list[str]:
    """The consume script's keys for one partition: its streams, high lane first, then its retry set."""
    return [*(_stream_key(topic, partition, lane) for lane in LANES), _retry_key(topic, partition, group)]


def _retry_member(message: Message) -> str:
    return f"{LANES.index(message.lane) + 1}|{message.id}"


class RedisWorkQueue:
    def __init__(
        self,
        client: RedisClient,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        retry_base_ms: int = 1000,
        retry_max_ms: int = 60_000,
        dead_letter_limit: int = 10_000,
        trim_interval_s: float = 30.0,
    ) -> None:
        if partitions < 1:
            raise ValueError("a topic needs at least one partition")
        self._client = client
        self._cluster = isinstance(client, RedisCluster)
        self._partitions = partitions
        self._retry_base_ms = retry_base_ms
        self._retry_max_ms = retry_max_ms
        self._dead_letter_limit = dead_letter_limit
        self._trim_interval_s = trim_interval_s
        self._next_trim: dict[tuple[str, tuple[int, ...]], float] = {}
        self._turns = itertools.count()
        self._consume = register_script(client, _CONSUME)
        self._touch = register_script(client, _TOUCH)
        self._retry = register_script(client, _RETRY)
        self._settle = register_script(client, _SETTLE)
        self._ack = register_script(client, _ACK)
        self._trim = register_script(client, _TRIM)
        self._depth = register_script(client, _DEPTH)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisWorkQueue:
        return cls(connect(url), **options)

    def partitions(self, topic: str) -> int:
        return self._partitions

    async def publish(self, topic: str, payload: dict[str, Any], *, key: str, lane: str = "normal") -> str:
        check_lane(lane)
        stream = _stream_key(topic, partition_for(key, self._partitions), lane)
        message_id: str = await self._client.xadd(stream, {"payload": json.dumps(payload)})
        return message_id

    async def consume(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        count: int = 16,
        block_ms: int = 1000,
        partitions: Collection[int] | None = None,
        claim_idle_ms: int = 60_000,
    ) -> list[Message]:
        chosen = selected_partitions(partitions, self._partitions, count)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block_ms / 1000
        await self._trim_if_due(topic, chosen)
        order = rotated(chosen, next(self._turns))
        keys = {partition: _partition_keys(topic, partition, group) for partition in order}
        while True:
            taken, ends, next_due_ms = await self._take(keys, [group, consumer, count, claim_idle_ms])
            if taken:
                # One pass over the rows, each made a Message as it is read: the aggregator takes
                # tens of thousands a second.
                loads = orjson.loads
                return [
                    Message(topic, partitions[p], LANES[lane - 1], id_, loads(payload), deliveries, consumer)
                    for partitions, rows in taken
                    for p, lane, id_, payload, deliveries in rows
                ]
            wait_ms = (deadline - loop.time()) * 1000
            if wait_ms < 1:
                return []
            if next_due_ms >= 0:
                wait_ms = min(wait_ms, max(1, next_due_ms))
            # Returns as soon as any stream grows past the end the script saw (no race with a
            # publish in between); the entries themselves are taken by the script next turn.
            streams: dict[int, dict[KeyT, StreamIdT]] = {
                partition: dict(zip(keys[partition][:-1], partition_ends, strict=True))
                for partition, partition_ends in ends.items()
            }
            await self._wait_for_more(streams, int(wait_ms))

    async def _take(
        self, keys: dict[int, list[str]], args: list[Any]
    ) -> tuple[list[tuple[list[int], list[Any]]], dict[int, list[str]], int]:
        """Run the consume script: (the taken rows of each script run, with the partitions its
        rows' partition indexes point into; the stream ends of each partition that had nothing to
        give; ms until the next retry is due or -1). Ends only matter when nothing was taken."""
        order = list(keys)
        if not self._cluster:
            reply = await self._consume(keys=[key for partition in order for key in keys[partition]], args=args)
            replies = [(order, reply)]
        else:
            replies = await self._take_per_slot(keys, args)
        taken = [(partitions, reply[0]) for partitions, reply in replies if reply[0]]
        ends: dict[int, list[str]] = {}
        next_due = -1
        for partitions, reply in replies:
            if len(reply) == 1:
                continue
            for n, partition in enumerate(partitions):
                ends[partition] = reply[1][n * len(LANES) : (n + 1) * len(LANES)]
            if reply[2] >= 0 and (next_due < 0 or reply[2] < next_due):
                next_due = reply[2]
        return taken, ends, next_due

    async def _take_per_slot(self, keys: dict[int, list[str]], args: list[Any]) -> list[tuple[list[int], Any]]:
        """On a cluster a script touches one slot: one script per partition, all at once (one
        after another, their round trips add up). Each partition asked gets an even share of
        `count`, so no more than `count` is taken; those that gave their whole share may hold
        more and, with any not asked yet, are asked for what is left."""
        replies: list[tuple[list[int], Any]] = []
        remaining, waiting = args[2], list(keys)  # partitions that may hold more, in serving order
        while waiting and remaining > 0:
            asked = waiting[:remaining]  # each asked for one at least
            share, extra = divmod(remaining, len(asked))
            asks = {p: share + (n < extra) for n, p in enumerate(asked)}
            answers = await asyncio.gather(
                *(self._consume(keys=keys[p], args=[*args[:2], ask, *args[3:]]) for p, ask in asks.items())
            )
            replies.extend(([p], reply) for p, reply in zip(asks, answers, strict=True))
            remaining -= sum(len(reply[0]) for reply in answers)
            full = [p for p, reply in zip(asks, answers, strict=True) if len(reply[0]) == asks[p]]
            waiting = full + waiting[len(asked) :]
        return replies

    async def _wait_for_more(self, streams: dict[int, dict[KeyT, StreamIdT]], wait_ms: int) -> None:
        """Block until a stream grows past its end or `wait_ms` passes."""
        if not self._cluster:
            await self._client.xread(
                {k: v for ends in streams.values() for k, v in ends.items()}, count=1, block=wait_ms
            )
            return

        # XREAD takes streams of one slot only: one partition per call, in short blocks, each
        # call another partition; a job arriving elsewhere meanwhile waits at most CLUSTER_BLOCK_MS.
        partitions = list(streams)
        ends = streams[partitions[next(self._turns) % len(partitions)]]
        await self._client.xread(ends, count=1, block=min(wait_ms, CLUSTER_BLOCK_MS))

    async def _trim_if_due(self, topic: str, partitions: list[int]) -> None:
        now = asyncio.get_running_loop().time()
        slot = (topic, tuple(partitions))
        if now < self._next_trim.get(slot, 0.0):
            return
        self._next_trim[slot] = now + self._trim_interval_s
        await self._each_stream(self._trim, [_stream_key(topic, p, lane) for p in partitions for lane in LANES])

    async def ack(self, message: Message, group: str) -> None:
        keys = [
            _stream_key(message.topic, message.partition, message.lane),
            _retry_key(message.topic, message.partition, group),
        ]
        await self._ack(keys=keys, args=[group, message.id, _retry_member(message)])

    async def ack_many(self, messages: Collection[Message], group: str) -> None:
        by_stream: dict[tuple[str, int, str], list[Message]] = {}
        for message in messages:
            by_stream.setdefault((message.topic, message.partition, message.lane), []).append(message)
        if not by_stream:
            return
        # A pipeline, not a transaction: the streams may be in different cluster slots (a
        # stream and its retry set share one), and a retry member left behind by a crash in
        # between is harmless (XCLAIM skips acked ids). By EVAL, as the key-value adapter's
        # batches: a cluster pipeline cannot load a script a node lacks.
        async with self._client.pipeline(transaction=False) as pipe:
            for (topic, partition, lane), batch in by_stream.items():
                # A retry member is taken off as its message is handed out again (a delivery
                # more), so a first delivery has one only if its holder retried it and then acked
                # it anyway: left behind, it is harmless (see above). Skipping first deliveries
                # halves what an aggregator's flush sends.
                retried = [_retry_member(message) for message in batch if message.attempts > 1]
                pipe.eval(
                    _ACK_MANY,
                    2,
                    _stream_key(topic, partition, lane),
                    _retry_key(topic, partition, group),
                    group,
                    orjson.dumps([message.id for message in batch]),
                    orjson.dumps(retried),
                )
            await pipe.execute()

    async def touch(self, message: Message, group: str) -> bool:
        stream = _stream_key(message.topic, message.partition, message.lane)
        return bool(await self._touch(keys=[stream], args=[group, message.consumer, message.id]))

    async def retry_or_dead_letter(self, message: Message, group: str, error: str, *, max_attempts: int = 3) -> bool:
        keys = [
            _stream_key(message.topic, message.partition, message.lane),
            _retry_key(message.topic, message.partition, group),
        ]
        args = [group, message.consumer, message.id, _retry_member(message)]
        if message.attempts < max_attempts:
            delay = retry_delay_ms(message.attempts, self._retry_base_ms, self._retry_max_ms)
            await self._retry(keys=keys, args=[*args, delay])
            return True
        # The dead-letter stream is in another slot, so this is two steps; writing the letter
        # first means a crash in between duplicates it rather than losing the job.
        dead_key = _dead_key(message.topic)
        dead_id = await self._client.xadd(
            dead_key,
            {
                "payload": json.dumps(message.payload),
                "error": error,
                "attempts": message.attempts,
                "partition": message.partition,
                "lane": message.lane,
                "failed_at": datetime.now(UTC).isoformat(),
            },
            maxlen=self._dead_letter_limit,
            approximate=True,
        )
        if not await self._settle(keys=keys, args=args):  # another consumer holds it now
            await self._client.xdel(dead_key, dead_id)
            return True
        return False

    async def dead_letters(self, topic: str, *, limit: int = 100) -> list[DeadLetter]:
        rows = await self._client.xrevrange(_dead_key(topic), count=limit)
        return [_dead_letter(topic, id_, fields) for id_, fields in rows]

    async def requeue_dead_letter(self, topic: str, dead_letter_id: str) -> bool:
        if not _STREAM_ID.match(dead_letter_id):
            return False
        dead_key = _dead_key(topic)
        rows = await self._client.xrange(dead_key, min=dead_letter_id, max=dead_letter_id)
        if not rows:
            return False
        letter = _dead_letter(topic, *rows[0])
        # Publish before deleting: a crash in between leaves a duplicate, never a lost job.
        stream = _stream_key(topic, letter.partition, letter.lane)
        await self._client.xadd(stream, {"payload": json.dumps(letter.payload)})
        await self._client.xdel(dead_key, dead_letter_id)
        return True

    async def depth(self, topic: str, group: str) -> int:
        streams = [_stream_key(topic, partition, lane) for partition in range(self._partitions) for lane in LANES]
        return sum(await self._each_stream(self._depth, streams, group))

    async def _each_stream(self, script: AsyncScript, streams: Sequence[str], *args: str) -> list[int]:
        """Run a one-stream script on each stream: pipelined on one Redis; at once on a cluster,
        whose pipelines take no scripts."""
        client = self._client
        if isinstance(client, RedisCluster):
            return list(await asyncio.gather(*(script(keys=[stream], args=args) for stream in streams)))
        async with client.pipeline(transaction=False) as pipe:
            for stream in streams:
                await script(keys=[stream], args=args, client=pipe)
            return list(await pipe.execute())

    async def ping(self) -> None:
        await self._client.ping()  # type: ignore[misc]  # redis-py types ping() for its sync and async clients at once

    async def close(self) -> None:
        await self._client.aclose()


def _dead_letter(topic: str, id_: str, fields: dict[str, str]) -> DeadLetter:
    return DeadLetter(
        id=id_,
        topic=topic,
        partition=int(fields["partition"]),
        lane=fields["lane"],
        payload=orjson.loads(fields["payload"]),
        error=fields["error"],
        attempts=int(fields["attempts"]),
        failed_at=datetime.fromisoformat(fields["failed_at"]),
    )
