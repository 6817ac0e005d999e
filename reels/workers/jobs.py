"""Scheduled jobs: the analytics tables (reels.domain.analytics) and engagement scoring
(reels.domain.integrity). Each is idempotent and resumable.

A scheduler in every worker process checks each job's due key in the shared cache every
TICK_S (or its shortest interval); the process that sets it (for the job's interval) queues a RunJob on the `jobs` topic,
so one run happens per interval however many workers there are, and a run that fails is
retried and dead-lettered like any job. `reels jobs run NAME` runs one at once, in its process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reels.domain import analytics, events, integrity
from reels.domain.events import RunJob, UnknownMessage, decode_job
from reels.platform import Platform
from reels.settings import Settings

log = logging.getLogger(__name__)

GROUP = "jobs"
TICK_S = 10.0


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    description: str
    run: Callable[[Platform], Awaitable[str]]
    interval_s: Callable[[Settings], float]


def _analytics(name: str, job: analytics.DayJob) -> Callable[[Platform], Awaitable[str]]:
    async def run(platform: Platform) -> str:
        days = await analytics.refresh(platform.sessions, name, job, today=datetime.now(UTC).date())
        return f"{name}: {days} days computed"

    return run


async def _score(platform: Platform) -> str:
    flagged = await integrity.score(
        platform.sessions, platform.kv, platform.queue, platform.pubsub, now=datetime.now(UTC)
    )
    return f"engagement_scoring: {flagged} accounts flagged"


def _every_analytics(settings: Settings) -> float:
    return settings.analytics_interval_s


JOBS = {
    job.name: job
    for job in (
        ScheduledJob(
            "engagement_scoring",
            "flag accounts whose likes and views look scripted; leave them out of counts",
            _score,
            lambda settings: settings.engagement_scoring_interval_s,
        ),
        ScheduledJob(
            "daily_counts",
            "each day's new accounts and reels, views, watch time, likes, comments, reports",
            _analytics("daily_counts", analytics.daily_counts),
            _every_analytics,
        ),
        ScheduledJob(
            "top_creators",
            "each creator's watch time and views per day",
            _analytics("top_creators", analytics.creator_watch_time),
            _every_analytics,
        ),
        ScheduledJob(
            "hashtag_popularity",
            "reels using and views of each hashtag per day",
            _analytics("hashtag_popularity", analytics.hashtag_popularity),
            _every_analytics,
        ),
        ScheduledJob(
            "trending_sounds",
            "reels using and views of each sound per day",
            _analytics("trending_sounds", analytics.trending_sounds),
            _every_analytics,
        ),
        ScheduledJob(
            "report_rates",
            "reports and reels reported per reason per day",
            _analytics("report_rates", analytics.report_rates),
            _every_analytics,
        ),
    )
}


async def run_job(platform: Platform, name: str) -> str:
    """Run the job `name` now; returns what it did. KeyError for an unknown name."""
    return await JOBS[name].run(platform)


def _due_key(name: str) -> str:
    return f"job:due:{name}"


async def schedule(platform: Platform) -> None:
    """Queue each job once per its interval, across every process (until cancelled). The first
    run of each comes an interval after the first scheduler starts."""
    intervals = {name: job.interval_s(platform.settings) for name, job in JOBS.items()}
    tick_s = min(TICK_S, *intervals.values())
    started = False
    while True:
        try:
            for name, interval_s in intervals.items():
                due = await platform.kv.set(_due_key(name), "1", ttl_s=interval_s, only_if_absent=True)
                if due and started:
                    await events.send(platform.queue, RunJob(name))
            started = True
        except Exception:
            log.exception("scheduling jobs failed; trying again in %.0f s", tick_s)
        await asyncio.sleep(tick_s)


async def handle(platform: Platform, payload: dict[str, Any]) -> None:
    match decode_job(events.Topic.JOBS, payload):
        case RunJob(name=name) if name in JOBS:
            log.info("%s", await run_job(platform, name))
        case other:
            raise UnknownMessage(f"no scheduled job {other!r}")
