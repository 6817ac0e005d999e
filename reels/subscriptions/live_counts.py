"""Live reel counts: one feed per reel and API process, shared by all of the reel's subscribers.

A count update goes to every subscriber of the reel: thousands, on a popular one. Taken through
GraphQL once per subscriber (authorize, execute the selection set, encode), that cost ~0.5 ms
each, over a second for 2,000 subscribers (docs/benchmarks.md). A `ReelFeed` does, per event:

- one read of the reel and one batched look-up of blocks (and, for a followers-only reel,
  follows) between its creator and the signed-in subscribers; `can_see_reel` decides for each,
  and a subscriber who may no longer see the reel is ended;
- one execution per distinct operation (query, operation name, variables): graphql-core runs
  its selection set with the counts as the root value, as it would for each subscriber, and
  the encoded result is shared;
- for each subscriber, a one-slot mailbox (latest wins), emptied by the subscriber's own task,
  which writes the payload to its socket. A slow client's write waits on its own socket's flow
  control (uvicorn pauses a writer whose buffer is full) while newer counts replace the one in
  its mailbox: it skips stale counts, never holds up the others, never queues without bound.

Each feed holds one subscription on the pub/sub port. When that fails, every member ends with
`PubSubUnavailable` and the next subscriber starts a new feed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from inspect import isawaitable

from graphql import Executor, GraphQLSchema, execute_subscription_event, parse

from reels.domain.events import ReelCountsChanged
from reels.domain.models import Reel, User, Visibility
from reels.domain.visibility import can_see_reel, creator_suspended
from reels.platform import Platform
from reels.ports.pubsub import PubSubUnavailable
from reels.resolvers.context import SocketOperation
from reels.schema.types import ReelCounts

log = logging.getLogger(__name__)

RenderKey = tuple[str, str | None, str]


class Renderer:
    """One operation's selection set, executed for count events."""

    def __init__(self, schema: GraphQLSchema, operation: SocketOperation) -> None:
        self.key: RenderKey = operation.render_key
        built = Executor.build(
            schema,
            parse(operation.query),
            raw_variable_values=operation.variables,
            operation_name=operation.operation_name,
        )
        if isinstance(built, list):  # strawberry validated the operation already
            raise built[0]
        self._executor = built

    async def render(self, counts: ReelCounts) -> str:
        result = execute_subscription_event(self._executor.build_per_event_executor(counts))
        if isawaitable(result):
            result = await result
        if result.errors:  # raised into the operation, whose error handling masks and reports it
            raise result.errors[0]
        return json.dumps({"data": result.data}, separators=(",", ":"))


class CountsEvent:
    """One count update, with its payload per operation, rendered by the first member to need it."""

    def __init__(self, counts: ReelCounts) -> None:
        self.counts = counts
        self.payloads: dict[RenderKey, str] = {}


class Member:
    """One subscription in a feed."""

    def __init__(self, viewer: User | None, renderer: Renderer) -> None:
        self.viewer = viewer
        self.renderer = renderer
        self._latest: CountsEvent | None = None
        self._wake = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None

    def offer(self, event: CountsEvent) -> None:
        self._latest = event  # replaces one not yet sent: only the newest counts matter
        self._wake.set()

    def end(self, error: BaseException | None = None) -> None:
        self._ended = True
        self._error = error
        self._wake.set()

    async def payloads(self) -> AsyncIterator[str]:
        """Encoded results, one per count event this subscriber may see, until it may not."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._error is not None:
                raise self._error
            if self._ended:
                return
            event, self._latest = self._latest, None
            if event is None:
                continue
            key = self.renderer.key
            if (payload := event.payloads.get(key)) is None:
                payload = event.payloads[key] = await self.renderer.render(event.counts)
            yield payload


class ReelFeed:
    def __init__(self, reel_id: int, platform: Platform) -> None:
        self.reel_id = reel_id
        self._platform = platform
        self.members: set[Member] = set()
        self._renderers: dict[RenderKey, Renderer] = {}
        self._renderer_users: Counter[RenderKey] = Counter()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._run(), name=f"live-counts:{reel_id}")

    def add(self, viewer: User | None, operation: SocketOperation, schema: GraphQLSchema) -> Member:
        key = operation.render_key
        if key not in self._renderers:
            self._renderers[key] = Renderer(schema, operation)
        self._renderer_users[key] += 1
        member = Member(viewer, self._renderers[key])
        self.members.add(member)
        return member

    def remove(self, member: Member) -> None:
        self.members.discard(member)
        key = member.renderer.key
        self._renderer_users[key] -= 1
        if self._renderer_users[key] <= 0:
            del self._renderer_users[key], self._renderers[key]

    async def _run(self) -> None:
        try:
            # One queued message at most: each carries all the counts, so the newest suffices.
            channel = ReelCountsChanged.channel_of(self.reel_id)
            async with self._platform.pubsub.subscribe(channel, max_queue=1) as messages:
                self.ready.set_result(None)
                async for message in messages:
                    changed = ReelCountsChanged.decode(self.reel_id, message)
                    await self._deliver(ReelCounts.from_counts(self.reel_id, dict(changed.counts)))
            self._fail(PubSubUnavailable("the pub/sub subscription ended"))  # the bus was closed
        except PubSubUnavailable as error:
            self._fail(error)
        except Exception as error:  # e.g. the database, while authorizing: fail closed
            log.exception("the live counts of reel %d failed", self.reel_id)
            self._fail(PubSubUnavailable(f"live counts failed: {error!r}"))

    def _fail(self, error: PubSubUnavailable) -> None:
        if not self.ready.done():
            self.ready.set_exception(error)
            self.ready.exception()  # retrieved: joiners get it from `ready`
        for member in self.members:
            member.end(error)

    async def _deliver(self, counts: ReelCounts) -> None:
        members = list(self.members)
        if not members:
            return
        event = CountsEvent(counts)
        for member, allowed in zip(members, await self._authorize(members), strict=True):
            if allowed:
                member.offer(event)
            else:
                member.end()

    async def _authorize(self, members: Sequence[Member]) -> list[bool]:
        async with self._platform.sessions() as session:
            reel = await session.get(Reel, self.reel_id)
            creator = await session.get(User, reel.creator_id) if reel is not None else None
        if reel is None:
            return [False] * len(members)
        graph = self._platform.graph
        others = list({m.viewer.id for m in members if m.viewer is not None} - {reel.creator_id})
        blocked = await graph.blocked_either_way(reel.creator_id, others) if others else set()
        followers = (
            await graph.followers_among(reel.creator_id, others)
            if others and reel.visibility == Visibility.FOLLOWERS
            else set()
        )
        return [
            can_see_reel(
                reel,
                m.viewer,
                viewer_follows_creator=m.viewer is not None and m.viewer.id in followers,
                blocked_either_way=m.viewer is not None and m.viewer.id in blocked,
                creator_suspended=creator_suspended(creator),
            )
            for m in members
        ]


class LiveCounts:
    """This process's reel feeds (one per app: each belongs to the event loop it runs on)."""

    def __init__(self, platform: Platform, schema: GraphQLSchema) -> None:
        self._platform = platform
        self._schema = schema
        self._feeds: dict[int, ReelFeed] = {}

    @asynccontextmanager
    async def join(self, reel_id: int, viewer: User | None, operation: SocketOperation) -> AsyncIterator[Member]:
        """A member of the reel's feed, once the feed's pub/sub subscription is live; raises
        PubSubUnavailable when it cannot be."""
        feed = self._feeds.get(reel_id)
        if feed is None or feed.task.done():
            feed = self._feeds[reel_id] = ReelFeed(reel_id, self._platform)
        try:
            member = feed.add(viewer, operation, self._schema)
        except Exception:
            self._stop_if_unused(feed)
            raise
        try:
            await asyncio.shield(feed.ready)
            yield member
        finally:
            feed.remove(member)
            self._stop_if_unused(feed)

    def _stop_if_unused(self, feed: ReelFeed) -> None:
        if not feed.members:
            feed.task.cancel()
            if self._feeds.get(feed.reel_id) is feed:
                del self._feeds[feed.reel_id]

    def subscribers(self, reel_id: int) -> int:
        """How many of this process's subscriptions receive the reel's next count event."""
        feed = self._feeds.get(reel_id)
        if feed is None or not feed.ready.done() or feed.task.done():
            return 0
        return len(feed.members)

    def totals(self) -> tuple[int, int]:
        """(feeds, subscriptions) of this process, for /metrics."""
        return len(self._feeds), sum(len(feed.members) for feed in self._feeds.values())

    async def close(self) -> None:
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            feed.task.cancel()
        for feed in feeds:
            with suppress(asyncio.CancelledError):
                await feed.task
