"""Reports, as moderators see them."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry
from strawberry.types import Info

from reels.domain import models
from reels.resolvers.context import Context
from reels.schema.enums import AuditAction, ReportReason, ReportStatus
from reels.schema.globalid import to_global_id
from reels.schema.types.connection import Node, shows
from reels.schema.types.reels import Reel
from reels.schema.types.users import User


@shows(models.Report)
@strawberry.type
class Report(Node):
    reason: ReportReason
    details: str | None
    status: ReportStatus
    created_at: datetime
    db_id: strawberry.Private[int]
    reel_id: strawberry.Private[int]
    reporter_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Report) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("Report", row.id)),
            reason=row.reason,
            details=row.details,
            status=row.status,
            created_at=row.created_at,
            db_id=row.id,
            reel_id=row.reel_id,
            reporter_id=row.reporter_id,
        )

    @strawberry.field
    async def reel(self, info: Info[Context, None]) -> Reel:
        return Reel.from_row(await info.context.loaders.reel_by_id.load(self.reel_id))

    @strawberry.field(description="How many users have an open report of this report's reel.")
    async def reel_report_count(self, info: Info[Context, None]) -> int:
        return await info.context.loaders.open_report_count_by_reel.load(self.reel_id)

    @strawberry.field
    async def reporter(self, info: Info[Context, None]) -> User:
        return User.from_row(await info.context.loaders.user_by_id.load(self.reporter_id))


@shows(models.ModerationLog)
@strawberry.type(description="One moderator action or automated check's decision, as the moderation log keeps it.")
class ModerationLogEntry(Node):
    action: AuditAction
    check: str | None = strawberry.field(
        description="The automated check that acted (e.g. terms, re-upload, reports, engagement_scoring); null when a person did."
    )
    reason: str
    created_at: datetime
    actor_id: strawberry.Private[int | None]
    reel_id: strawberry.Private[int | None]
    user_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.ModerationLog) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("ModerationLogEntry", row.id)),
            action=AuditAction(row.action),
            check=row.check_name,
            reason=row.reason,
            created_at=row.created_at,
            actor_id=row.moderator_id,
            reel_id=row.reel_id,
            user_id=row.user_id,
        )

    @strawberry.field(description="The moderator or admin who acted; null for an automated check.")
    async def actor(self, info: Info[Context, None]) -> User | None:
        return await _user(info, self.actor_id)

    @strawberry.field(description="The reel acted on, if any.")
    async def reel(self, info: Info[Context, None]) -> Reel | None:
        row = await info.context.loaders.reel_by_id.load(self.reel_id) if self.reel_id is not None else None
        return Reel.from_row(row) if row is not None else None

    @strawberry.field(description="The account acted on, if any.")
    async def user(self, info: Info[Context, None]) -> User | None:
        return await _user(info, self.user_id)


async def _user(info: Info[Context, None], user_id: int | None) -> User | None:
    row = await info.context.loaders.user_by_id.load(user_id) if user_id is not None else None
    return User.from_row(row) if row is not None else None
