"""The composition root: picks one adapter per port from settings, once, at start-up.

Nothing else in the code knows which adapters run; everything receives a `Platform`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reels import db
from reels.domain import ids
from reels.domain.feed_features import ReelFeatures
from reels.domain.feed_model import FeedRanker
from reels.domain.playback import PlaybackUrls
from reels.domain.screening import BlockedReels, Checks
from reels.ports import graph, kv, objectstore, pubsub, queue
from reels.ports.kv import TokenLeases
from reels.settings import ConfigError, Settings

log = logging.getLogger(__name__)


class IdSlot:
    """This process's worker slot in Snowflake ids, leased in the shared cache so no two live
    processes of a region make ids with the same node bits."""

    TTL_S = 60.0

    def __init__(self, cache: kv.KeyValue, region_id: int) -> None:
        self.cache = cache
        self.region_id = region_id
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.key: str | None = None

    async def lease(self) -> None:
        for slot in range(ids.MAX_WORKER + 1):
            key = f"ids:slot:{self.region_id}:{slot}"
            if await self.cache.set(key, self.owner, ttl_s=self.TTL_S, only_if_absent=True):
                self.key = key
                ids.configure(self.region_id, slot)
                log.info("Snowflake node: region %d, worker slot %d", self.region_id, slot)
                return
        raise ConfigError(
            f"all {ids.MAX_WORKER + 1} id worker slots of region {self.region_id} are taken: run fewer processes "
            "per region or give another group of them its own REELS_REGION_ID"
        )

    async def keep(self) -> None:
        """Renew the lease; if it was lost (the cache was unreachable too long), lease another
        slot before making more ids with the old one."""
        while True:
            await asyncio.sleep(self.TTL_S / 3)
            try:
                if self.key is None or not await self.cache.expire_if_equal(self.key, self.owner, self.TTL_S):
                    log.error("lost the Snowflake worker slot %s; leasing another", self.key)
                    await self.lease()
            except Exception:  # the cache is down: retry (the lease outlives short outages)
                log.exception("renewing the Snowflake worker slot failed")

    async def release(self) -> None:
        if self.key is not None:
            with contextlib.suppress(Exception):
                if await self.cache.get(self.key) == self.owner:
                    await self.cache.delete(self.key)


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Read-only sessions on the primary (of db.read_engine): reads that must see the latest
    # writes (a token's account, a request's reads after it wrote).
    primary_reads: async_sessionmaker[AsyncSession]
    # The same reads' engine, for driver reads (db.DriverStatement) of the primary.
    primary_read_engine: AsyncEngine
    kv: kv.KeyValue
    queue: queue.WorkQueue
    pubsub: pubsub.PubSub
    store: objectstore.ObjectStore
    replicas: list[objectstore.ObjectStore]
    graph: graph.FollowGraph
    jwt_secret: str
    # Where read-only work may go (REELS_DATABASE_REPLICA_URLS); the primary when none is set.
    read_replicas: db.ReadReplicas
    background: list[asyncio.Task[None]] = field(default_factory=list)
    # This process's index of blocked reels' fingerprints, for the re-upload check.
    blocked_reels: BlockedReels = field(default_factory=BlockedReels)
    _id_slot: IdSlot | None = None

    @cached_property
    def checks(self) -> Checks:
        """The automated checks' term lists and classifier hook, as the settings name them."""
        return Checks(self.settings)

    @cached_property
    def playback(self) -> PlaybackUrls:
        """Signs (or, on a CDN, names) reels' media URLs: one per process, its key derived once."""
        settings = self.settings
        return PlaybackUrls(
            self.store, public_url=settings.public_url, secret=self.jwt_secret, media_base_url=settings.media_base_url
        )

    @cached_property
    def feed_ranker(self) -> FeedRanker:
        """The ranker this process serves the For You feed with, reloaded when a new one is published."""
        settings = self.settings
        return FeedRanker(self.store, reload_s=settings.ranker_reload_s, budget_s=settings.feed_score_budget_ms / 1000)

    @cached_property
    def reel_features(self) -> ReelFeatures:
        """Reels' feature hashes for new feed lists, kept in this process for REELS_FEED_FEATURES_CACHE_S."""
        return ReelFeatures(self.kv, self.settings.feed_features_cache_s)

    @cached_property
    def request_budgets(self) -> TokenLeases:
        """The per-client request buckets (reels.http.clients), taken a lease at a time."""
        return TokenLeases(self.kv)

    @classmethod
    async def start(cls, settings: Settings, *, require_migrated: bool = True) -> Platform:
        settings.validate_services()
        engine = db.create_engine(settings.resolved_database_url, pool_size=settings.database_pool_size)
        if require_migrated:
            await db.ensure_migrated(engine)
        sessions = db.session_factory(engine)
        primary_read_engine = db.read_engine(engine)
        primary_reads = db.session_factory(primary_read_engine)
        bus = pubsub.from_settings(settings)
        await bus.connect()
        cache = kv.from_settings(settings)
        work_queue = queue.from_settings(settings)
        # Connect before the first requests do it at once (redis-py's cluster client leaks
        # connections when concurrent commands set it up together).
        await cache.ping()
        await work_queue.ping()
        platform = cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            primary_reads=primary_reads,
            primary_read_engine=primary_read_engine,
            kv=cache,
            queue=work_queue,
            pubsub=bus,
            store=objectstore.from_settings(settings, public_url=settings.public_url),
            replicas=objectstore.replicas_from_settings(settings),
            graph=graph.from_settings(settings, sessions, primary_read_engine),
            jwt_secret=settings.jwt_secret(),
            read_replicas=db.ReadReplicas(
                primary_reads,
                settings.resolved_replica_urls,
                max_lag_s=settings.replica_max_lag_s,
                pool_size=settings.database_pool_size,
            ),
        )
        if settings.resolved_replica_urls:
            await platform.read_replicas.check()  # reads go to the primary until a replica is known good
            platform.background.append(asyncio.create_task(platform.read_replicas.watch(), name="read-replicas"))
        if settings.redis_url:  # processes share the cache, so they can share out worker slots
            slot = IdSlot(cache, settings.region_id)
            await slot.lease()
            platform.background.append(asyncio.create_task(slot.keep(), name="id-slot"))
            platform._id_slot = slot
        else:  # the embedded setup is one process
            ids.configure(settings.region_id, 0)
        _ = platform.feed_ranker  # from start-up, /metrics says which ranker serves
        return platform

    def reads(self) -> async_sessionmaker[AsyncSession]:
        """The session factory for read-only work that need not see this request's own writes:
        a replica that keeps up, else the primary."""
        return self.read_replicas.sessions()

    async def health(self) -> dict[str, str]:
        """'ok' or the error, per adapter; /healthz answers 503 when any is not ok."""

        async def check_database() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        checks = {
            "database": check_database(),
            "kv": self.kv.ping(),
            "queue": self.queue.ping(),
            "pubsub": self.pubsub.ping(),
            "objectstore": self.store.ping(),
            "graph": self.graph.ping(),
        }
        results = await asyncio.gather(
            *(asyncio.wait_for(check, timeout=3) for check in checks.values()), return_exceptions=True
        )
        return {
            name: "ok" if not isinstance(result, BaseException) else (f"{type(result).__name__}: {result}" or "down")
            for name, result in zip(checks, results, strict=True)
        }

    async def close(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self._id_slot is not None:
            await self._id_slot.release()
        if "feed_ranker" in self.__dict__:  # built on first use
            await self.feed_ranker.close()
        for closer in (self.graph.close, self.store.close, self.pubsub.close, self.queue.close, self.kv.close):
            try:
                await closer()
            except Exception:
                log.exception("closing %s failed", closer)
        await self.read_replicas.close()
        await self.engine.dispose()
