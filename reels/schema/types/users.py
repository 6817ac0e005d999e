"""Accounts as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry
from strawberry.types import Info

from reels.domain import models
from reels.resolvers import notifications as resolve_notifications
from reels.resolvers import reels as resolve
from reels.resolvers.context import Context
from reels.schema.enums import Role
from reels.schema.globalid import to_global_id
from reels.schema.pagination import page_size
from reels.schema.types.connection import Node, ReelConnection, after_id, shows


@shows(models.User)
@strawberry.type
class User(Node):
    username: str
    display_name: str
    role: Role
    created_at: datetime
    db_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.User) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("User", row.id)),
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            created_at=row.created_at,
            db_id=row.id,
        )

    @strawberry.field
    async def follower_count(self, info: Info[Context, None]) -> int:
        return (await info.context.loaders.follow_counts_by_user.load(self.db_id))[0]

    @strawberry.field
    async def following_count(self, info: Info[Context, None]) -> int:
        return (await info.context.loaders.follow_counts_by_user.load(self.db_id))[1]

    @strawberry.field(description="False for anonymous viewers and for the viewer's own profile.")
    async def viewer_is_following(self, info: Info[Context, None]) -> bool:
        return await info.context.loaders.viewer_follows_user.load(self.db_id)

    @strawberry.field(description="Newest first; only READY reels, plus the viewer's own reels in any status.")
    async def reels(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        page = await resolve.reels_of_creator(info.context, self.db_id, page_size(first), after_id(after))
        return ReelConnection.of(page)

    @strawberry.field(description="The viewer's notifications not yet marked read; null on anyone else's profile.")
    async def unread_notification_count(self, info: Info[Context, None]) -> int | None:
        if info.context.viewer is None or info.context.viewer.id != self.db_id:
            return None
        return await resolve_notifications.unread_count(info.context)
