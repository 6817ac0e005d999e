"""For You lists built ahead (reels.domain.feed.build_ahead): a viewer paging near the end of
their list has the next one ranked here, off the API processes, so the pages they serve never
wait behind a ranking (candidates, feature reads, scoring) running beside them."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from reels.domain import feed
from reels.domain.events import BuildFeedAhead, Topic, decode_job
from reels.domain.feed_candidates import FeedPorts
from reels.platform import Platform

GROUP = "feed-builders"
# Lists built at once by one worker process: ranking waits on the cache and the database
# between its scoring runs, and the scoring pool has two threads.
CONCURRENCY = 2
# How long a worker that is stopping lets a list it is building finish.
STOP_WAIT_S = 5.0


async def handle(platform: Platform, payload: dict[str, Any]) -> None:
    match decode_job(Topic.FEED, payload):
        case BuildFeedAhead() as job:
            await _to_its_end(feed.build_ahead(feed_ports(platform), job))
        case other:
            raise ValueError(f"{other!r} is not a feed job")


async def _to_its_end(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` to its end even if the worker stops meanwhile (up to STOP_WAIT_S; a list takes
    well under a second). Cut off in the middle of its database reads, a build left SQLite
    connections that never closed, and the stopping process hung on them."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task], timeout=STOP_WAIT_S)
        task.cancel()
        raise


def feed_ports(platform: Platform) -> FeedPorts:
    return FeedPorts(
        platform.sessions,
        platform.reads(),
        platform.graph,
        platform.kv,
        platform.queue,
        platform.feed_ranker,
        platform.reel_features,
        platform.settings,
    )
