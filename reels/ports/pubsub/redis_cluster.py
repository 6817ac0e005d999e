"""The pub/sub port on a Redis Cluster (`redis+cluster://`): sharded channels, the production
adapter for a cluster.

A plain PUBLISH on a cluster is forwarded over the cluster bus to every node, so each message
costs every node some work and the bus traffic grows with the cluster. A sharded channel
(SPUBLISH / SSUBSCRIBE, Redis >= 7.0) lives in the slot of its name, like a key: its messages stay
within the shard serving that slot. SPUBLISH goes through the cluster client, which routes it by
slot and follows MOVED.

Subscriptions are grouped by master: one connection per master carries the SSUBSCRIBEs of the
channels whose slots it serves, and a reader task per connection hands messages and subscribe
confirmations over. redis-py's asyncio client has no sharded pub/sub of its own (its sync
`ClusterPubSub` does), so the commands are sent as they are; its reply parser knows them.

A channel loses its home when its connection fails or goes silent (3 x `ping_interval_s`), or when
its master stops serving the slot: after a resharding or a failover Redis sends an SUNSUBSCRIBE we
did not ask for, or answers SSUBSCRIBE with MOVED. Homeless channels are placed again on the
masters of a freshly read slot map (CLUSTER SLOTS; the cluster client's own re-initialisation
leaves the replaced node objects' connections open), with backoff; when that keeps failing for
`reconnect_timeout_s`, `next_published` raises `PubSubUnavailable` (see `base`). Messages
published meanwhile are lost, as on one Redis.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisPubSubConnection
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.crc import key_slot
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from reels.ports.pubsub.base import BroadcastPubSub, Confirmations, PubSubUnavailable
from reels.ports.redis_client import connect, is_cluster

log = logging.getLogger(__name__)

# A shard's connection is given up on any of these: a lost or silent connection, or a reply such
# as MOVED saying the node no longer serves a channel's slot.
_SHARD_LOST = (RedisError, OSError)

# Messages read from the shards and not yet taken by the hub; past this the readers wait, and
# the sockets buffer, as one Redis connection does when its reader is behind.
EVENTS_BUFFERED = 1024


class _Shard:
    """One master's subscriber connection, the channels it carries and its reader task."""

    def __init__(self, name: str, client: Redis) -> None:
        self.name = name
        self.client = client
        self.pubsub: RedisPubSubConnection = client.pubsub()
        self.channels: set[str] = set()
        self.leaving: Counter[str] = Counter()  # SUNSUBSCRIBEs we sent, their replies not yet read
        self.reader: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self.reader is not None and self.reader is not asyncio.current_task():
            self.reader.cancel()
            with suppress(asyncio.CancelledError):
                await self.reader
        with suppress(Exception):  # it may be broken already; closing is best effort
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        with suppress(Exception):
            await self.client.aclose()


class ShardedRedisBackend(BroadcastBackend):
    """Sharded Redis Cluster pub/sub for broadcaster, with re-placement (module docstring)."""

    def __init__(
        self, url: str, *, reconnect_timeout_s: float = 30.0, ping_interval_s: float = 10.0, poll_s: float = 1.0
    ) -> None:
        # No super().__init__(): broadcaster's base constructor only raises NotImplementedError.
        if not is_cluster(url):
            raise ValueError(f"sharded pub/sub needs a redis+cluster:// URL, got {url!r}")
        cluster = connect(
            url,
            socket_connect_timeout=5,
            socket_timeout=5,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
        )
        assert isinstance(cluster, RedisCluster)
        self._cluster = cluster
        # redis-py's own retries would reconnect behind our back; re-placement is ours alone.
        self._node_options: dict[str, Any] = {
            "socket_connect_timeout": 5,
            "socket_timeout": 5,
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
        }
        self._reconnect_timeout_s = reconnect_timeout_s
        self._ping_interval_s = ping_interval_s
        self._poll_s = poll_s
        self._slot_starts: list[int] = []  # the slot map: ranges by first slot, and their masters
        self._slot_ranges: list[tuple[int, int, str, int]] = []  # (first, last, host, port)
        self._channels: set[str] = set()  # wanted by the hub
        self._shards: dict[str, _Shard] = {}  # by node name, host:port
        self._home: dict[str, _Shard] = {}  # channel -> the shard it was subscribed on
        self._homeless: set[str] = set()
        self._placing = asyncio.Lock()  # one (re)placement at a time keeps _home and _shards agreed
        self._rehoming: asyncio.Task[None] | None = None
        self._confirmations = Confirmations()
        self._events: asyncio.Queue[Event | PubSubUnavailable] = asyncio.Queue(EVENTS_BUFFERED)
        self._failure: PubSubUnavailable | None = None

    async def connect(self) -> None:
        try:
            await self._learn_slots()
        except _SHARD_LOST as exc:
            raise PubSubUnavailable(f"cannot reach the Redis Cluster for pub/sub: {exc}") from exc

    async def disconnect(self) -> None:
        if self._rehoming is not None:
            self._rehoming.cancel()
            with suppress(asyncio.CancelledError):
                await self._rehoming
        for shard in list(self._shards.values()):
            await shard.close()
        self._shards.clear()
        await self._cluster.aclose()

    async def ping(self) -> None:
        if self._failure is not None:
            raise self._failure
        await self._cluster.ping()  # type: ignore[misc]  # redis-py types ping() for its sync and async clients at once

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self._cluster.execute_command("SPUBLISH", channel, message)
        except _SHARD_LOST as exc:
            raise PubSubUnavailable(f"cannot publish to the Redis Cluster: {exc}") from exc

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """One cluster pipeline (not a transaction): redis-py routes each SPUBLISH by its
        channel's slot and sends each node its share at once."""
        if not messages:
            return
        try:
            async with self._cluster.pipeline(transaction=False) as pipe:
                for channel, message in messages:
                    pipe.execute_command("SPUBLISH", channel, message)
                await pipe.execute()
        except _SHARD_LOST as exc:
            raise PubSubUnavailable(f"cannot publish to the Redis Cluster: {exc}") from exc

    async def subscribe(self, channel: str) -> None:
        if self._failure is not None:
            raise self._failure
        confirmed = self._confirmations.wait_for(channel)
        self._channels.add(channel)
        async with self._placing:
            placed = await self._place(channel)
        if not placed:
            self._rehome({channel})
        await asyncio.shield(confirmed)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._homeless.discard(channel)
        async with self._placing:
            shard = self._home.pop(channel, None)
            if shard is None:
                return
            shard.channels.discard(channel)
            shard.leaving[channel] += 1
            try:
                await shard.pubsub.execute_command("SUNSUBSCRIBE", channel)
            except _SHARD_LOST as exc:
                await self._lose(shard, exc)  # a new connection carries only the channels left

    async def next_published(self) -> Event:
        item = await self._events.get()
        if isinstance(item, PubSubUnavailable):
            raise item
        return item

    async def _learn_slots(self) -> None:
        slots = await self._cluster.cluster_slots()
        self._slot_ranges = sorted((first, last, *owner["primary"]) for (first, last), owner in slots.items())
        self._slot_starts = [first for first, *_ in self._slot_ranges]

    def _master_of(self, channel: str) -> tuple[str, int]:
        slot = key_slot(channel.encode())
        at = bisect.bisect_right(self._slot_starts, slot) - 1
        if at < 0 or self._slot_ranges[at][1] < slot:
            raise RedisError(f"slot {slot} of {channel!r} is not served")
        _, _, host, port = self._slot_ranges[at]
        return host, port

    async def _place(self, channel: str) -> bool:
        """SSUBSCRIBE `channel` on the master of its slot (as the last slot map read has it);
        False when that failed. The reader confirms it. Call with `_placing` held."""
        try:
            host, port = self._master_of(channel)
            name = f"{host}:{port}"
            shard = self._shards.get(name)
            if shard is None:
                shard = self._shards[name] = _Shard(name, Redis(host=host, port=port, **self._node_options))
            self._home[channel] = shard
            shard.channels.add(channel)
            await shard.pubsub.execute_command("SSUBSCRIBE", channel)
        except _SHARD_LOST as exc:
            log.warning("could not subscribe %s on the Redis Cluster (%s: %s)", channel, type(exc).__name__, exc)
            if channel in self._home:
                await self._lose(self._home[channel], exc)
            return False
        if shard.reader is None:
            shard.reader = asyncio.create_task(self._read(shard), name=f"pubsub-shard-{shard.name}")
        return True

    async def _read(self, shard: _Shard) -> None:
        """Hand over what one shard's connection receives, until it is lost."""
        loop = asyncio.get_running_loop()
        last_heard = loop.time()
        try:
            while True:
                message = await shard.pubsub.get_message(timeout=self._poll_s)
                silent_s = loop.time() - last_heard
                if message is None:
                    if silent_s > 3 * self._ping_interval_s:
                        raise RedisTimeoutError(f"no reply from {shard.name} for {silent_s:.0f} s")
                    if silent_s > self._ping_interval_s:
                        await shard.pubsub.execute_command("PING")
                    continue
                last_heard = loop.time()
                kind, channel = message["type"], message["channel"]
                if kind == "smessage":
                    await self._events.put(Event(channel=channel, message=message["data"]))
                elif kind == "ssubscribe":
                    self._confirmations.confirm(channel)
                elif kind == "sunsubscribe":
                    if shard.leaving[channel] > 0:
                        shard.leaving[channel] -= 1
                    elif self._home.get(channel) is shard:  # its slot moved away from this node
                        log.info("%s left %s (its slot moved); placing it again", channel, shard.name)
                        del self._home[channel]
                        shard.channels.discard(channel)
                        self._rehome({channel})
        except _SHARD_LOST as exc:
            async with self._placing:
                await self._lose(shard, exc)

    async def _lose(self, shard: _Shard, exc: BaseException) -> None:
        """Give up a shard's connection; its channels are placed again. Call with `_placing` held."""
        if self._shards.get(shard.name) is not shard:
            return
        log.warning(
            "Redis Cluster pub/sub lost %s (%s: %s); placing its channels again", shard.name, type(exc).__name__, exc
        )
        del self._shards[shard.name]
        for channel in shard.channels:
            if self._home.get(channel) is shard:
                del self._home[channel]
        self._rehome(shard.channels & self._channels)
        await shard.close()

    def _rehome(self, channels: set[str]) -> None:
        self._homeless |= channels
        if self._homeless and (self._rehoming is None or self._rehoming.done()):
            self._rehoming = asyncio.create_task(self._place_homeless(), name="pubsub-rehome")

    async def _place_homeless(self) -> None:
        """Read the slot map again and place every homeless channel, with backoff, until all have a
        home or `reconnect_timeout_s` passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._reconnect_timeout_s
        delay = 0.05
        error: BaseException | None = None
        while True:
            async with self._placing:
                try:
                    await self._learn_slots()
                except _SHARD_LOST as exc:
                    error = exc
                else:
                    for channel in sorted(self._homeless & self._channels):
                        if await self._place(channel):
                            self._homeless.discard(channel)
                    self._homeless &= self._channels
                    if not self._homeless:
                        return
            if loop.time() + delay > deadline:
                self._fail(error or RuntimeError(f"channels without a home: {sorted(self._homeless)}"))
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _fail(self, exc: BaseException) -> None:
        failure = self._failure = PubSubUnavailable(
            f"Redis Cluster pub/sub unreachable for {self._reconnect_timeout_s:g} s, giving up: {exc}"
        )
        self._confirmations.fail_all(failure)
        while self._events.full():  # the failure must get through; messages queued before it are moot
            self._events.get_nowait()
        self._events.put_nowait(failure)


class ShardedRedisPubSub(BroadcastPubSub):
    def __init__(self, url: str, *, reconnect_timeout_s: float = 30.0, ping_interval_s: float = 10.0) -> None:
        super().__init__(
            lambda: ShardedRedisBackend(url, reconnect_timeout_s=reconnect_timeout_s, ping_interval_s=ping_interval_s)
        )

    async def ping(self) -> None:
        await super().ping()
        backend = self._backend
        assert isinstance(backend, ShardedRedisBackend)
        await backend.ping()
