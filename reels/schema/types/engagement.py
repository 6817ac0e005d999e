"""Counts, comments and notifications."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry
from strawberry.types import Info

from reels.domain import models
from reels.resolvers import reels as resolve
from reels.resolvers.context import Context
from reels.schema.enums import NotificationKind
from reels.schema.globalid import to_global_id
from reels.schema.types.connection import Node, reel_of, shows
from reels.schema.types.users import User

if TYPE_CHECKING:
    from reels.schema.types.reels import Reel

LazyReel = Annotated["Reel", strawberry.lazy("reels.schema.types.reels")]


@strawberry.type
class ReelCounts:
    reel_id: strawberry.ID
    likes: int
    views: int
    comments: int
    shares: int

    @classmethod
    def from_counts(cls, reel_id: int, counts: dict[str, int]) -> Self:
        return cls(reel_id=strawberry.ID(to_global_id("Reel", reel_id)), **counts)


@shows(models.Comment)
@strawberry.type
class Comment(Node):
    text: str
    created_at: datetime
    db_id: strawberry.Private[int]
    reel_id: strawberry.Private[int]
    author_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Comment) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("Comment", row.id)),
            text=row.text,
            created_at=row.created_at,
            db_id=row.id,
            reel_id=row.reel_id,
            author_id=row.author_id,
        )

    @strawberry.field
    async def reel(self, info: Info[Context, None]) -> LazyReel:
        return reel_of(await info.context.loaders.reel_by_id.load(self.reel_id))

    @strawberry.field
    async def author(self, info: Info[Context, None]) -> User:
        return User.from_row(await info.context.loaders.user_by_id.load(self.author_id))


@shows(models.Notification)
@strawberry.type
class Notification:
    id: strawberry.ID
    kind: NotificationKind
    created_at: datetime
    read_at: datetime | None = strawberry.field(description="When the viewer marked it read; null while unread.")
    actor_id: strawberry.Private[int | None]
    reel_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Notification) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("Notification", row.id)),
            kind=row.kind,
            created_at=row.created_at,
            read_at=row.read_at,
            actor_id=row.actor_id,
            reel_id=row.reel_id,
        )

    @strawberry.field
    async def actor(self, info: Info[Context, None]) -> User | None:
        if self.actor_id is None:
            return None
        row = await info.context.loaders.user_by_id.load(self.actor_id)
        return User.from_row(row) if row else None

    @strawberry.field
    async def reel(self, info: Info[Context, None]) -> LazyReel | None:
        row = await resolve.visible_reel(info.context, self.reel_id)
        return reel_of(row) if row else None
