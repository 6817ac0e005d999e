"""The analytics tables, read for admins (reels.domain.analytics)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reels.domain import analytics
from reels.domain.models import (
    AnalyticsCreatorDay,
    AnalyticsDay,
    AnalyticsHashtagDay,
    AnalyticsSoundDay,
    JobRun,
    ReportReason,
)
from reels.resolvers.context import Context


def _since(days: int) -> Any:
    return analytics.since(days, datetime.now(UTC).date())


async def daily_counts(context: Context, days: int) -> list[AnalyticsDay]:
    async with context.reads() as session:
        return await analytics.days(session, _since(days))


async def top_creators(context: Context, days: int, first: int) -> list[Any]:
    table = AnalyticsCreatorDay
    async with context.reads() as session:
        return await analytics.top(session, table, table.creator_id, ("watch_ms", "views"), _since(days), first)


async def hashtag_popularity(context: Context, days: int, first: int) -> list[Any]:
    table = AnalyticsHashtagDay
    async with context.reads() as session:
        return await analytics.top(session, table, table.hashtag_id, ("reels", "views"), _since(days), first)


async def trending_sounds(context: Context, days: int, first: int) -> list[Any]:
    table = AnalyticsSoundDay
    async with context.reads() as session:
        return await analytics.top(session, table, table.audio_id, ("reels", "views"), _since(days), first)


async def report_rates(context: Context, days: int) -> tuple[list[tuple[ReportReason, int, int]], int]:
    async with context.reads() as session:
        return await analytics.report_totals(session, _since(days))


async def job_runs(context: Context) -> list[JobRun]:
    async with context.reads() as session:
        return await analytics.job_runs(session)
