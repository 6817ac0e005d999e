"""The pub/sub port's interface, its subscriber queue and error, and the fan-out hub both
adapters run on: live events fanned out to subscribers (GraphQL subscriptions), on broadcaster.

broadcaster supplies the backend interface (`BroadcastBackend`: connect, subscribe,
unsubscribe, publish, next_published); each adapter is `BroadcastPubSub` over one backend
(`memory.MemoryPubSub`: broadcaster's memory://, `redis.RedisPubSub`: our Redis backend). The
hub is ours rather than broadcaster's `Broadcast`, because in 0.3.1 that one gives each
subscriber an unbounded queue filled with an awaited put, loses a subscriber when two tasks
subscribe to a new channel at the same moment, and lets its listener task die silently
(subscribers then wait forever).

Guarantees: all subscribers of a channel in one process share one upstream subscription, and
`subscribe()` returns only once it is active upstream. Each subscriber has a bounded queue; a
slow reader loses its OLDEST queued messages (live counts are superseded by newer ones anyway)
and never slows the publisher or other subscribers. A lost backend connection is re-established
with backoff and every channel resubscribed; messages published meanwhile are lost (pub/sub is
at-most-once; subscribers needing the current state re-read it). When the backend stays
unreachable for its reconnect timeout, its subscribers' iterators raise `PubSubUnavailable` (so
clients see an error instead of silence); the next subscribe() or ping() then starts over on a
fresh backend, and raises `PubSubUnavailable` while it is still unreachable (so /healthz
reports it).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Protocol

from broadcaster import BroadcastBackend

log = logging.getLogger(__name__)


class PubSubUnavailable(RuntimeError):
    """The pub/sub backend is gone and could not be reached (again) in time; backends raise it
    from `connect()` and `publish()` too."""


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

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """`publish` each (channel, message), in order, in as few round trips as the backend
        allows (the aggregator publishes every changed reel's counts after a flush)."""
        ...

    def subscribe(self, channel: str, *, max_queue: int = 64) -> AbstractAsyncContextManager[Subscription]:
        """`async with pubsub.subscribe(channel) as messages: async for message in messages: ...`"""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class Confirmations:
    """What a Redis backend's `subscribe()` waits for: the server's confirmation of each channel,
    handed over by the backend's reader, or the failure that ends the backend, for all at once."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[None]] = {}

    def wait_for(self, channel: str) -> asyncio.Future[None]:
        confirmed = self._waiting.get(channel)
        if confirmed is None:
            confirmed = self._waiting[channel] = asyncio.get_running_loop().create_future()
        return confirmed

    def confirm(self, channel: str) -> None:
        confirmed = self._waiting.pop(channel, None)
        if confirmed is not None and not confirmed.done():
            confirmed.set_result(None)

    def fail_all(self, failure: BaseException) -> None:
        for confirmed in self._waiting.values():
            if not confirmed.done():
                confirmed.set_exception(failure)
        self._waiting.clear()


class BroadcastPubSub:
    """The fan-out hub over one broadcaster backend (see the module docstring); `new_backend`
    makes a fresh one when the last gave up."""

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

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        # The Redis backends send them in one pipeline; broadcaster's memory backend has no batch.
        publish_many = getattr(self._backend, "publish_many", None)
        if publish_many is not None:
            await publish_many(messages)
            return
        for channel, message in messages:
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
        one: its server may be back. Its `connect()` raises PubSubUnavailable while it is not."""
        with suppress(Exception):  # the old backend is broken; closing it is best effort
            await self._backend.disconnect()
        self._channels.clear()
        self._backend = self._new_backend()
        await self._backend.connect()
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
