"""What the analytics jobs computed, as admins read it (reels.domain.analytics)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from reels.resolvers import analytics as resolve
from reels.resolvers.context import Context
from reels.schema.enums import ReportReason
from reels.schema.pagination import page_size
from reels.schema.types.connection import node_of

if TYPE_CHECKING:
    from reels.schema.types.discovery import Audio, Hashtag
    from reels.schema.types.users import User

DAYS = 30
TOP = 10
MAX_DAYS = 366


def _days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise GraphQLError(f"`days` must be between 1 and {MAX_DAYS}", extensions={"code": "INVALID"})
    return days


@strawberry.type(description="One UTC day's totals.")
class DailyCounts:
    day: date
    new_users: int
    new_reels: int
    views: int = strawberry.field(description="Views counted (3 s watched or completed).")
    watch_seconds: float = strawberry.field(description="Time watched, counted views or not.")
    likes: int = strawberry.field(description="Likes given that day that still stand.")
    comments: int
    reports: int


@strawberry.type
class CreatorWatchTime:
    watch_seconds: float
    views: int
    creator_id: strawberry.Private[int]

    @strawberry.field
    async def creator(
        self, info: Info[Context, None]
    ) -> Annotated[User, strawberry.lazy("reels.schema.types.users")] | None:
        row = await info.context.loaders.user_by_id.load(self.creator_id)
        return node_of(row) if row is not None else None


@strawberry.type
class HashtagPopularity:
    reels: int = strawberry.field(description="READY reels created in the period that use it.")
    views: int = strawberry.field(description="Views counted in the period of reels that use it.")
    hashtag_id: strawberry.Private[int]

    @strawberry.field
    async def hashtag(
        self, info: Info[Context, None]
    ) -> Annotated[Hashtag, strawberry.lazy("reels.schema.types.discovery")] | None:
        row = await info.context.loaders.hashtag_by_id.load(self.hashtag_id)
        return node_of(row) if row is not None else None


@strawberry.type
class SoundPopularity:
    reels: int = strawberry.field(description="READY reels created in the period that use it.")
    views: int = strawberry.field(description="Views counted in the period of reels that use it.")
    audio_id: strawberry.Private[int]

    @strawberry.field
    async def audio(
        self, info: Info[Context, None]
    ) -> Annotated[Audio, strawberry.lazy("reels.schema.types.discovery")] | None:
        row = await info.context.loaders.audio_by_id.load(self.audio_id)
        return node_of(row) if row is not None else None


@strawberry.type
class ReportRate:
    reason: ReportReason
    reports: int
    reels_reported: int
    per_thousand_views: float = strawberry.field(description="Reports per 1,000 views counted in the period.")


@strawberry.type(description="Where a scheduled job got to.")
class JobStatus:
    name: str
    done_through: date | None = strawberry.field(description="The last UTC day it finished; null before its first.")
    last_run_at: datetime | None


@strawberry.type(
    description="Tables the scheduled analytics jobs compute (`reels jobs run NAME` runs one now). "
    "Each period is the last `days` UTC days, today included."
)
class Analytics:
    @strawberry.field(description="Newest day first.")
    async def daily_counts(self, info: Info[Context, None], days: int = DAYS) -> list[DailyCounts]:
        return [
            DailyCounts(
                day=row.day,
                new_users=row.new_users,
                new_reels=row.new_reels,
                views=row.views,
                watch_seconds=row.watch_ms / 1000,
                likes=row.likes,
                comments=row.comments,
                reports=row.reports,
            )
            for row in await resolve.daily_counts(info.context, _days(days))
        ]

    @strawberry.field(description="Creators by time watched of their reels.")
    async def top_creators(
        self, info: Info[Context, None], days: int = 7, first: int | None = TOP
    ) -> list[CreatorWatchTime]:
        rows = await resolve.top_creators(info.context, _days(days), page_size(first, TOP))
        return [
            CreatorWatchTime(creator_id=key, watch_seconds=watch_ms / 1000, views=views)
            for key, watch_ms, views in rows
        ]

    @strawberry.field(description="Hashtags by reels using them, then by views.")
    async def hashtag_popularity(
        self, info: Info[Context, None], days: int = 7, first: int | None = TOP
    ) -> list[HashtagPopularity]:
        rows = await resolve.hashtag_popularity(info.context, _days(days), page_size(first, TOP))
        return [HashtagPopularity(hashtag_id=key, reels=reels, views=views) for key, reels, views in rows]

    @strawberry.field(description="Sounds by reels using them, then by views.")
    async def trending_sounds(
        self, info: Info[Context, None], days: int = 7, first: int | None = TOP
    ) -> list[SoundPopularity]:
        rows = await resolve.trending_sounds(info.context, _days(days), page_size(first, TOP))
        return [SoundPopularity(audio_id=key, reels=reels, views=views) for key, reels, views in rows]

    @strawberry.field(description="Reports per reason, most reported first.")
    async def report_rates(self, info: Info[Context, None], days: int = DAYS) -> list[ReportRate]:
        rows, views = await resolve.report_rates(info.context, _days(days))
        return [
            ReportRate(
                reason=reason,
                reports=reports,
                reels_reported=reels,
                per_thousand_views=reports * 1000 / views if views else 0.0,
            )
            for reason, reports, reels in rows
        ]

    @strawberry.field
    async def jobs(self, info: Info[Context, None]) -> list[JobStatus]:
        return [
            JobStatus(name=run.name, done_through=run.done_through, last_run_at=run.last_run_at)
            for run in await resolve.job_runs(info.context)
        ]
