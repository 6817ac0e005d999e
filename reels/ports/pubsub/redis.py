"""The pub/sub port on one Redis: the production adapter (a cluster has `redis_cluster`'s).

`RedisBackend` is ours rather than broadcaster's, which never reconnects and, with redis-py 8,
listens before SUBSCRIBE completes (so nothing is ever delivered).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisPubSubConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from reels.ports.pubsub.base import BroadcastPubSub, Confirmations, PubSubUnavailable
from reels.ports.redis_client import is_cluster

log = logging.getLogger(__name__)

_CONNECTION_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBackend(BroadcastBackend):
    """Redis pub/sub for broadcaster, with reconnection.

    One connection carries all SUBSCRIBEs and is read by `next_published` (run by the hub's
    listener task), which also answers the subscribe confirmations `subscribe()` waits for.
    A read or write failure, or silence for 3 x `ping_interval_s` (a half-open connection),
    drops the connection; the next read reconnects with exponential backoff and resubscribes
    every channel, giving up after `reconnect_timeout_s`.
    """

    def __init__(
        self, url: str, *, reconnect_timeout_s: float = 30.0, ping_interval_s: float = 10.0, poll_s: float = 1.0
    ) -> None:
        # No super().__init__(): broadcaster's base constructor only raises NotImplementedError.
        if is_cluster(url):
            raise ValueError("a Redis Cluster takes the sharded adapter (reels.ports.pubsub.redis_cluster)")
        self._publisher = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=5,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
        )
        # redis-py's own retries would reconnect behind our back; reconnection is ours alone.
        options: dict[str, Any] = {"socket_connect_timeout": 5, "socket_timeout": 5, "retry": Retry(NoBackoff(), 0)}
        self._subscriber = Redis.from_url(url, decode_responses=True, **options)
        self._reconnect_timeout_s = reconnect_timeout_s
        self._ping_interval_s = ping_interval_s
        self._poll_s = poll_s
        self._pubsub: RedisPubSubConnection | None = None
        self._channels: set[str] = set()
        self._confirmations = Confirmations()
        self._has_channels = asyncio.Event()
        self._last_heard = 0.0
        self._failure: PubSubUnavailable | None = None
        self._closed = False

    async def connect(self) -> None:
        try:
            await self._publisher.ping()  # type: ignore[misc]  # redis-py types ping() for its sync and async clients at once
        except _CONNECTION_LOST as exc:
            raise PubSubUnavailable(f"cannot reach Redis for pub/sub: {exc}") from exc

    async def disconnect(self) -> None:
        if self._pubsub is not None:
            await self._drop(self._pubsub)
        await self._publisher.aclose()
        await self._subscriber.aclose()

    async def ping(self) -> None:
        if self._failure is not None:
            raise self._failure
        await self._publisher.ping()  # type: ignore[misc]  # redis-py types ping() for its sync and async clients at once

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self._publisher.publish(channel, message)
        except _CONNECTION_LOST as exc:
            raise PubSubUnavailable(f"cannot publish to Redis: {exc}") from exc

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Every PUBLISH in one pipeline: a round trip each cost the aggregator more than its
        whole reading of the events of the reels it published for."""
        if not messages:
            return
        try:
            async with self._publisher.pipeline(transaction=False) as pipe:
                for channel, message in messages:
                    pipe.publish(channel, message)
                await pipe.execute()
        except _CONNECTION_LOST as exc:
            raise PubSubUnavailable(f"cannot publish to Redis: {exc}") from exc

    async def subscribe(self, channel: str) -> None:
        if self._failure is not None:
            raise self._failure
        confirmed = self._confirmations.wait_for(channel)
        self._channels.add(channel)
        self._has_channels.set()
        pubsub = self._pubsub
        if pubsub is not None:  # else the listener is (re)connecting and subscribes all channels
            try:
                await pubsub.subscribe(channel)
            except _CONNECTION_LOST as exc:
                log.warning("Redis pub/sub connection lost while subscribing (%s); reconnecting", exc)
                await self._drop(pubsub)
        await asyncio.shield(confirmed)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                await pubsub.unsubscribe(channel)
            except _CONNECTION_LOST:
                await self._drop(pubsub)  # a new connection subscribes only the channels left

    async def next_published(self) -> Event:
        loop = asyncio.get_running_loop()
        while True:
            if not self._channels:  # nothing to read; a read without subscriptions fails
                self._has_channels.clear()
                await self._has_channels.wait()
                self._last_heard = loop.time()  # the silence while idle says nothing
                continue
            pubsub = self._pubsub
            if pubsub is None:
                await self._reconnect()
                continue
            try:
                message = await pubsub.get_message(timeout=self._poll_s)
                silent_s = loop.time() - self._last_heard
                if message is not None:
                    self._last_heard = loop.time()
                elif silent_s > 3 * self._ping_interval_s:
                    raise RedisTimeoutError(f"no reply from Redis for {silent_s:.0f} s")
                elif silent_s > self._ping_interval_s:
                    await pubsub.ping()
            except Exception as exc:
                # Any error from a connection subscribe()/unsubscribe() dropped meanwhile is
                # expected; from a live one only connection errors are.
                if pubsub is self._pubsub and not isinstance(exc, _CONNECTION_LOST):
                    raise
                log.warning("Redis pub/sub connection lost (%s: %s); reconnecting", type(exc).__name__, exc)
                await self._drop(pubsub)
                continue
            if message is None:
                continue
            if message["type"] == "message":
                return Event(channel=message["channel"], message=message["data"])
            if message["type"] == "subscribe":
                self._confirmations.confirm(message["channel"])

    async def _drop(self, pubsub: RedisPubSubConnection) -> None:
        if self._pubsub is pubsub:
            self._pubsub = None
        with suppress(Exception):  # it is broken already; closing is best effort
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def _reconnect(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._reconnect_timeout_s
        delay = 0.05
        while self._channels:
            channels = set(self._channels)
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(*channels)
                self._pubsub, self._last_heard = pubsub, loop.time()
                # Channels (un)subscribed while this connection was being set up.
                if added := self._channels - channels:
                    await pubsub.subscribe(*added)
                if removed := channels - self._channels:
                    await pubsub.unsubscribe(*removed)
                log.info("Redis pub/sub connected, %d channels subscribed", len(self._channels))
                return
            except _CONNECTION_LOST as exc:
                await self._drop(pubsub)
                if loop.time() + delay > deadline:
                    raise self._fail(exc) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _fail(self, exc: BaseException) -> PubSubUnavailable:
        failure = self._failure = PubSubUnavailable(
            f"Redis pub/sub unreachable for {self._reconnect_timeout_s:g} s, giving up: {exc}"
        )
        self._confirmations.fail_all(failure)
        return failure


class RedisPubSub(BroadcastPubSub):
    def __init__(self, url: str, *, reconnect_timeout_s: float = 30.0, ping_interval_s: float = 10.0) -> None:
        super().__init__(
            lambda: RedisBackend(url, reconnect_timeout_s=reconnect_timeout_s, ping_interval_s=ping_interval_s)
        )

    async def ping(self) -> None:
        await super().ping()
        backend = self._backend
        assert isinstance(backend, RedisBackend)
        await backend.ping()
