"""Pub/sub port: live events fanned out to subscribers (GraphQL subscriptions), on broadcaster.

broadcaster supplies the backend interface (`BroadcastBackend`: connect, subscribe,
unsubscribe, publish, next_published) and the in-process `memory://` backend. The fan-out hub
on top is `BroadcastPubSub` below rather than broadcaster's `Broadcast`, because in 0.3.1 that
one gives each subscriber an unbounded queue filled with an awaited put, loses a subscriber when
two tasks subscribe to a new channel at the same moment, and lets its listener task die
silently (subscribers then wait forever). The Redis backend is `RedisBackend` below rather than
broadcaster's, which never reconnects and, with redis-py 8, listens before SUBSCRIBE completes.

Guarantees: all subscribers of a channel in one process share one upstream subscription, and
`subscribe()` returns only once it is active upstream. Each subscriber has a bounded queue; a
slow reader loses its OLDEST queued messages (live counts are superseded by newer ones anyway)
and never slows the publisher or other subscribers. A lost Redis connection is re-established
with backoff and every channel resubscribed; messages published meanwhile are lost (pub/sub is
at-most-once; subscribers needing the current state re-read it). When Redis stays unreachable
for `reconnect_timeout_s`, its subscribers' iterators raise `PubSubUnavailable` (so clients
see an error instead of silence); the next subscribe() or ping() then starts over on a fresh
backend, and raises `PubSubUnavailable` while Redis is still unreachable (so /healthz reports it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Protocol

from broadcaster import BroadcastBackend, Event
from broadcaster._backends.memory import MemoryBackend  # not re-exported; broadcaster is pinned
from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisPubSubConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from reels.settings import Settings

log = logging.getLogger(__name__)

_CONNECTION_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class PubSubUnavailable(RuntimeError):
    """The pub/sub backend is gone and could not be reached again in time."""


class Subscription:
    """One subscriber's bounded queue; `async for message in subscription` yields the messages."""

    def __init__(self, max_queue: int) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self._messages: deque[str] = deque(maxlen=max_queue)
        self._ready = asyncio.Event()
        self._ended = False
        self._error: PubSubUnavailable | None = None
        self.dropped = 0  # messages lost to a full queue

    def offer(self, message: str) -> None:
        if len(self._messages) == self._messages.maxlen:
            self.dropped += 1
        self._messages.append(message)
        self._ready.set()

    def end(self, error: PubSubUnavailable | None = None) -> None:
        """Stop the iteration once the queue is drained, raising `error` if given."""
        self._ended = True
        self._error = self._error or error
        self._ready.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str:
        while not self._messages:
            if self._error is not None:
                raise self._error
            if self._ended:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._messages.popleft()


class PubSub(Protocol):
    async def connect(self) -> None: ...

    async def publish(self, channel: str, message: str) -> None:
        """Deliver to the channel's current subscribers, in every process; raises
        `PubSubUnavailable` when the backend cannot be reached."""
        ...

    def subscribe(self, channel: str, *, max_queue: int = 64) -> AbstractAsyncContextManager[Subscription]:
        """`async with pubsub.subscribe(channel) as messages: async for message in messages: ...`"""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class BroadcastPubSub:
    """The fan-out hub over one broadcaster backend (see the module docstring)."""

    def __init__(self, new_backend: Callable[[], BroadcastBackend]) -> None:
        self._new_backend = new_backend
        self._backend = new_backend()
        self._channels: dict[str, set[Subscription]] = {}
        # Serialises upstream (un)subscribes so a channel is subscribed exactly once.
        self._changing = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._failure: PubSubUnavailable | None = None
        self._closed = False

    async def connect(self) -> None:
        if self._listener is None:
            await self._backend.connect()
            self._listener = asyncio.create_task(self._listen(), name="pubsub-listener")

    async def _listen(self) -> None:
        try:
            while True:
                event = await self._backend.next_published()
                for subscription in self._channels.get(event.channel, ()):
                    subscription.offer(event.message)
        except Exception as exc:
            if isinstance(exc, PubSubUnavailable):
                self._failure = exc
            else:
                log.exception("pub/sub listener failed")
                self._failure = PubSubUnavailable(f"pub/sub listener failed: {exc!r}")
            for subscriptions in self._channels.values():
                for subscription in subscriptions:
                    subscription.end(self._failure)

    async def publish(self, channel: str, message: str) -> None:
        await self._backend.publish(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str, *, max_queue: int = 64) -> AsyncIterator[Subscription]:
        if self._listener is None or self._closed:
            raise RuntimeError("subscribe() needs a connected, open pub/sub")
        subscription = Subscription(max_queue)
        async with self._changing:
            if self._failure is not None:
                await self._start_over()
            if channel not in self._channels:
                await self._backend.subscribe(channel)
                self._channels[channel] = set()
            self._channels[channel].add(subscription)
            if self._failure is not None:  # failed while we waited for the upstream subscription
                subscription.end(self._failure)
        try:
            yield subscription
        finally:
            subscription.end()
            # Leave the fan-out at once (no await), so even a cancelled clean-up stops the offers.
            self._channels.get(channel, set()).discard(subscription)
            async with self._changing:
                if channel in self._channels and not self._channels[channel]:
                    del self._channels[channel]
                    if self._failure is None and not self._closed:
                        await self._backend.unsubscribe(channel)

    async def ping(self) -> None:
        if self._failure is not None:
            async with self._changing:
                if self._failure is not None:
                    await self._start_over()
        if self._listener is None or self._listener.done():
            raise PubSubUnavailable("pub/sub is not connected")

    async def _start_over(self) -> None:
        """After the backend gave up (its subscribers were all ended with the error), try a fresh
        one: Redis may be back. Raises PubSubUnavailable while it is not."""
        with suppress(Exception):  # the old backend is broken; closing it is best effort
            await self._backend.disconnect()
        self._channels.clear()
        self._backend = self._new_backend()
        try:
            await self._backend.connect()
        except _CONNECTION_LOST as exc:
            raise PubSubUnavailable(f"pub/sub backend still unreachable: {exc}") from exc
        self._failure = None
        self._listener = asyncio.create_task(self._listen(), name="pubsub-listener")
        log.info("pub/sub started over on a fresh backend")

    async def close(self) -> None:
        if self._listener is None or self._closed:
            return
        self._closed = True
        self._listener.cancel()
        with suppress(asyncio.CancelledError):
            await self._listener
        for subscriptions in self._channels.values():
            for subscription in subscriptions:
                subscription.end()
        await self._backend.disconnect()


class MemoryPubSub(BroadcastPubSub):
    """In-process: publishers and subscribers in one process (broadcaster's memory:// backend)."""

    def __init__(self) -> None:
        super().__init__(lambda: MemoryBackend("memory://"))


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
        self._publisher = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=5,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
        )
        # redis-py's own retries would reconnect behind our back; reconnection is ours alone.
        self._subscriber = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=5, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )
        self._reconnect_timeout_s = reconnect_timeout_s
        self._ping_interval_s = ping_interval_s
        self._poll_s = poll_s
        self._pubsub: RedisPubSubConnection | None = None
        self._channels: set[str] = set()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._has_channels = asyncio.Event()
        self._last_heard = 0.0
        self._failure: PubSubUnavailable | None = None
        self._closed = False

    async def connect(self) -> None:
        await self._publisher.ping()

    async def disconnect(self) -> None:
        if self._pubsub is not None:
            await self._drop(self._pubsub)
        await self._publisher.aclose()
        await self._subscriber.aclose()

    async def ping(self) -> None:
        if self._failure is not None:
            raise self._failure
        await self._publisher.ping()

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self._publisher.publish(channel, message)
        except _CONNECTION_LOST as exc:
            raise PubSubUnavailable(f"cannot publish to Redis: {exc}") from exc

    async def subscribe(self, channel: str) -> None:
        if self._failure is not None:
            raise self._failure
        confirmed = self._confirmations.get(channel)
        if confirmed is None:
            confirmed = self._confirmations[channel] = asyncio.get_running_loop().create_future()
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
                confirmed = self._confirmations.pop(message["channel"], None)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)

    async def _drop(self, pubsub: RedisPubSubConnection) -> None:
        if self._pubsub is pubsub:
            self._pubsub = None
        with suppress(Exception):  # it is broken already; closing is best effort
            await pubsub.aclose()

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
        for confirmed in self._confirmations.values():
            if not confirmed.done():
                confirmed.set_exception(failure)
        self._confirmations.clear()
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


def from_settings(settings: Settings) -> PubSub:
    if settings.redis_url:
        return RedisPubSub(settings.redis_url, reconnect_timeout_s=settings.pubsub_reconnect_timeout_s)
    return MemoryPubSub()
