"""Background workers: queue consumers and periodic jobs. They run in `reels worker`, or inside
`reels serve` on the embedded setup, as tasks owned by the platform (cancelled on close)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from reels.domain.events import Topic
from reels.platform import Platform
from reels.ports.queue import DeadLetter, MemoryWorkQueue
from reels.settings import Settings
from reels.workers import aggregator, fanout, feed, jobs, maintenance, media
from reels.workers.aggregator import Aggregator
from reels.workers.runner import WORKER_YOUNG_GC, consume_forever, every, tune_gc

log = logging.getLogger(__name__)

# Every queue topic and the consumer group that works it (also what /metrics reports backlogs of).
CONSUMER_GROUPS = {
    Topic.MEDIA: media.GROUP,
    Topic.ENGAGEMENT: aggregator.GROUP,
    Topic.FANOUT: fanout.GROUP,
    Topic.JOBS: jobs.GROUP,
    Topic.FEED: feed.GROUP,
}

# Per topic: what `reels jobs retry` does before it queues a dead letter again.
BEFORE_REQUEUE: dict[str, Callable[[Platform, DeadLetter], Awaitable[None]]] = {Topic.MEDIA: media.before_requeue}


async def _requeue_lost_jobs(platform: Platform) -> None:
    """Queue every reel in progress again: the in-process queue lost their jobs with the last process."""
    await maintenance.requeue_stuck_reels(platform, older_than_s=0)


def start_workers(platform: Platform) -> None:
    settings = platform.settings
    claim_idle_ms = int(settings.job_claim_idle_s * 1000)  # a job a dead worker held is taken over after this
    tasks: dict[str, Coroutine[Any, Any, None]] = {
        "media": consume_forever(
            platform,
            Topic.MEDIA,
            media.GROUP,
            media.handle,
            concurrency=settings.worker_concurrency,
            claim_idle_ms=claim_idle_ms,
            on_dead=media.on_dead_letter,
        ),
        "aggregator": Aggregator(platform).run(),
        "fanout": consume_forever(
            platform,
            Topic.FANOUT,
            fanout.GROUP,
            fanout.handle,
            claim_idle_ms=claim_idle_ms,
        ),
        "maintenance": every(settings.maintenance_interval_s, lambda: maintenance.run_once(platform), "maintenance"),
        "jobs": consume_forever(platform, Topic.JOBS, jobs.GROUP, jobs.handle, claim_idle_ms=claim_idle_ms),
        "scheduler": jobs.schedule(platform),
        "feed": consume_forever(
            platform,
            Topic.FEED,
            feed.GROUP,
            feed.handle,
            concurrency=feed.CONCURRENCY,
            claim_idle_ms=claim_idle_ms,
        ),
    }
    if isinstance(platform.queue, MemoryWorkQueue):  # the jobs of the last run died with it
        tasks["requeue"] = _requeue_lost_jobs(platform)
    platform.background += [asyncio.create_task(job, name=name) for name, job in tasks.items()]


async def run_forever(settings: Settings) -> None:
    """`reels worker`: every consumer and periodic job, until SIGINT/SIGTERM."""
    platform = await Platform.start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    start_workers(platform)
    tune_gc(WORKER_YOUNG_GC)
    log.info("workers running: %s", ", ".join(task.get_name() for task in platform.background))
    try:
        await stop.wait()
    finally:
        await platform.close()
