"""The composition root: picks one adapter per port from settings, once, at start-up.

Nothing else in the code knows which adapters run; everything receives a `Platform`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reels import db
from reels.domain import ids
from reels.graph import from_settings as graph_from_settings
from reels.graph.port import FollowGraph
from reels.ports import kv, objectstore, pubsub, queue
from reels.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Platform:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    kv: kv.KeyValue
    queue: queue.WorkQueue
    pubsub: pubsub.PubSub
    store: objectstore.ObjectStore
    replicas: list[objectstore.ObjectStore]
    graph: FollowGraph
    jwt_secret: str
    background: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, *, require_migrated: bool = True) -> Platform:
        settings.validate_services()
        ids.configure(settings.region_id)
        engine = db.create_engine(settings.resolved_database_url)
        if require_migrated:
            await db.ensure_migrated(engine)
        sessions = db.session_factory(engine)
        bus = pubsub.from_settings(settings)
        await bus.connect()
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            kv=kv.from_settings(settings),
            queue=queue.from_settings(settings),
            pubsub=bus,
            store=objectstore.from_settings(settings, public_url=settings.public_url),
            replicas=objectstore.replicas_from_settings(settings),
            graph=graph_from_settings(settings, sessions),
            jwt_secret=settings.jwt_secret(),
        )

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
        for closer in (self.graph.close, self.store.close, self.pubsub.close, self.queue.close, self.kv.close):
            try:
                await closer()
            except Exception:
                log.exception("closing %s failed", closer)
        await self.engine.dispose()
