"""Analytics: per-day tables computed by scheduled jobs (reels.workers.jobs), read by admins.

Every job computes whole UTC days with SQL aggregates on the relational store (a GROUP BY per
table and day; rows of a day are found by a range of their Snowflake ids, which the primary keys
index, or by `likes.created_at`, indexed), so the work grows with one day's rows and moves with
the database: point the jobs at a read replica or a distributed SQL engine and they scale with
it. A day is replaced in one transaction (delete, then insert), so running a job again gives the
same rows; `job_runs.done_through` records the last finished day, and the next run starts there
(redoing it for late arrivals), so a run that stopped resumes without gaps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain.ids import first_id_at
from reels.domain.models import (
    AnalyticsCreatorDay,
    AnalyticsDay,
    AnalyticsHashtagDay,
    AnalyticsReportDay,
    AnalyticsSoundDay,
    Comment,
    JobRun,
    Like,
    Reel,
    ReelHashtag,
    ReelStatus,
    Report,
    ReportReason,
    User,
    WatchEvent,
)

# How far back a job's first run reaches.
FIRST_RUN_DAYS = 30
DayJob = Callable[[AsyncSession, date], Awaitable[None]]


@dataclass(frozen=True)
class Day:
    """A UTC day as the bounds its rows fall in: ids from `first_id` below `end_id`, times from
    `start` before `end`."""

    day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(), UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)

    @property
    def first_id(self) -> int:
        return first_id_at(int(self.start.timestamp() * 1000))

    @property
    def end_id(self) -> int:
        return first_id_at(int(self.end.timestamp() * 1000))

    def ids(self, column: Any) -> Any:
        return column.between(self.first_id, self.end_id - 1)


async def _scalar(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(query) or 0)


async def daily_counts(session: AsyncSession, day: date) -> None:
    bounds = Day(day)
    watches = (
        await session.execute(
            select(func.count(case((WatchEvent.counted, 1))), func.coalesce(func.sum(WatchEvent.watched_ms), 0)).where(
                bounds.ids(WatchEvent.id)
            )
        )
    ).one()
    row = {
        "day": day,
        "new_users": await _scalar(session, select(func.count()).where(bounds.ids(User.id))),
        "new_reels": await _scalar(session, select(func.count()).where(bounds.ids(Reel.id))),
        "views": int(watches[0]),
        "watch_ms": int(watches[1]),
        "likes": await _scalar(
            session, select(func.count()).where(Like.created_at >= bounds.start, Like.created_at < bounds.end)
        ),
        "comments": await _scalar(
            session, select(func.count()).where(bounds.ids(Comment.id), Comment.deleted_at.is_(None))
        ),
        "reports": await _scalar(session, select(func.count()).where(bounds.ids(Report.id))),
    }
    await session.execute(delete(AnalyticsDay).where(AnalyticsDay.day == day))
    await session.execute(insert(AnalyticsDay).values(row))


async def creator_watch_time(session: AsyncSession, day: date) -> None:
    bounds = Day(day)
    await session.execute(delete(AnalyticsCreatorDay).where(AnalyticsCreatorDay.day == day))
    per_creator = (
        select(
            literal(day).label("day"),
            Reel.creator_id,
            func.sum(WatchEvent.watched_ms),
            func.count(case((WatchEvent.counted, 1))),
        )
        .join(Reel, Reel.id == WatchEvent.reel_id)
        .where(bounds.ids(WatchEvent.id))
        .group_by(Reel.creator_id)
    )
    await session.execute(
        insert(AnalyticsCreatorDay).from_select(["day", "creator_id", "watch_ms", "views"], per_creator)
    )


async def _uses_and_views(
    session: AsyncSession, day: date, key: Any, join: tuple[Any, Any] | None, table: Any, key_name: str
) -> None:
    """Per `key` (a hashtag, a sound): reels created that day using it, and counted views that
    day of reels using it; the day's rows of `table` replaced."""
    bounds = Day(day)
    uses_query = (
        select(key, func.count())
        .select_from(Reel)
        .where(bounds.ids(Reel.id), Reel.status == ReelStatus.READY, Reel.deleted_at.is_(None))
    )
    views_query = (
        select(key, func.count())
        .select_from(WatchEvent)
        .join(Reel, Reel.id == WatchEvent.reel_id)
        .where(bounds.ids(WatchEvent.id), WatchEvent.counted)
    )
    if join is not None:
        uses_query, views_query = uses_query.join(*join), views_query.join(*join)
    uses: dict[int, int] = dict((await session.execute(uses_query.where(key.is_not(None)).group_by(key))).all())
    views: dict[int, int] = dict((await session.execute(views_query.where(key.is_not(None)).group_by(key))).all())
    await session.execute(delete(table).where(table.day == day))
    rows = [
        {"day": day, key_name: found, "reels": uses.get(found, 0), "views": views.get(found, 0)}
        for found in uses.keys() | views.keys()
    ]
    if rows:
        await session.execute(insert(table), rows)


async def hashtag_popularity(session: AsyncSession, day: date) -> None:
    await _uses_and_views(
        session,
        day,
        ReelHashtag.hashtag_id,
        (ReelHashtag, ReelHashtag.reel_id == Reel.id),
        AnalyticsHashtagDay,
        "hashtag_id",
    )


async def trending_sounds(session: AsyncSession, day: date) -> None:
    await _uses_and_views(session, day, Reel.audio_id, None, AnalyticsSoundDay, "audio_id")


async def report_rates(session: AsyncSession, day: date) -> None:
    bounds = Day(day)
    await session.execute(delete(AnalyticsReportDay).where(AnalyticsReportDay.day == day))
    per_reason = (
        select(literal(day).label("day"), Report.reason, func.count(), func.count(Report.reel_id.distinct()))
        .where(bounds.ids(Report.id))
        .group_by(Report.reason)
    )
    await session.execute(insert(AnalyticsReportDay).from_select(["day", "reason", "reports", "reels"], per_reason))


async def refresh(sessions: async_sessionmaker[AsyncSession], name: str, job: DayJob, *, today: date) -> int:
    """Run `job` for each day from where the last run of `name` finished through `today`, one
    transaction a day; returns how many days it computed."""
    async with sessions() as session:
        done_through = await session.scalar(select(JobRun.done_through).where(JobRun.name == name))
    day = done_through or today - timedelta(days=FIRST_RUN_DAYS - 1)
    days = 0
    while day <= today:
        async with sessions.begin() as session:
            await job(session, day)
            run = await session.get(JobRun, name) or JobRun(name=name)
            if day < today:  # today is never finished
                run.done_through = day
            run.last_run_at = datetime.now(UTC)
            session.add(run)
        day += timedelta(days=1)
        days += 1
    return days


# --- reading --------------------------------------------------------------------------------


def since(days: int, today: date) -> date:
    return today - timedelta(days=max(1, days) - 1)


async def days(session: AsyncSession, first_day: date) -> list[AnalyticsDay]:
    return list(
        (
            await session.scalars(
                select(AnalyticsDay).where(AnalyticsDay.day >= first_day).order_by(AnalyticsDay.day.desc())
            )
        ).all()
    )


async def top(
    session: AsyncSession, table: Any, key: Any, order: tuple[str, ...], first_day: date, first: int
) -> list[Any]:
    """The keys of `table` with the largest sums of `order` columns since `first_day`: rows of
    (key, *sums of the table's count columns, in `order`)."""
    sums = [func.sum(getattr(table, column)).label(column) for column in order]
    query = select(key, *sums).where(table.day >= first_day).group_by(key).order_by(*(s.desc() for s in sums), key)
    return list((await session.execute(query.limit(first))).all())


async def report_totals(session: AsyncSession, first_day: date) -> tuple[list[tuple[ReportReason, int, int]], int]:
    """Per reason: reports and reels reported since `first_day`; and the counted views then."""
    rows = (
        await session.execute(
            select(AnalyticsReportDay.reason, func.sum(AnalyticsReportDay.reports), func.sum(AnalyticsReportDay.reels))
            .where(AnalyticsReportDay.day >= first_day)
            .group_by(AnalyticsReportDay.reason)
            .order_by(func.sum(AnalyticsReportDay.reports).desc(), AnalyticsReportDay.reason)
        )
    ).all()
    views = await _scalar(session, select(func.sum(AnalyticsDay.views)).where(AnalyticsDay.day >= first_day))
    return [(ReportReason(reason), int(reports), int(reels)) for reason, reports, reels in rows], views


async def job_runs(session: AsyncSession) -> list[JobRun]:
    return list((await session.scalars(select(JobRun).order_by(JobRun.name))).all())
