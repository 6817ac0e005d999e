"""Hashtags and sounds, what reels are found by; their trends, and explore's mix of reels, trends and creators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Self, Union

import strawberry
from strawberry.types import Info

from reels.domain import models
from reels.resolvers import discovery
from reels.resolvers import reels as resolve
from reels.resolvers.context import Context
from reels.resolvers.pages import Page
from reels.schema.enums import ReelSort
from reels.schema.globalid import to_global_id
from reels.schema.pagination import page_size
from reels.schema.types.connection import Connection, Node, ReelConnection, after_edge, after_id, reel_of, shows

if TYPE_CHECKING:
    from reels.schema.types.reels import Reel
    from reels.schema.types.users import User


@shows(models.Hashtag)
@strawberry.type
class Hashtag(Node):
    name: str
    db_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Hashtag) -> Self:
        return cls(id=strawberry.ID(to_global_id("Hashtag", row.id)), name=row.name, db_id=row.id)

    @strawberry.field
    async def reel_count(self, info: Info[Context, None]) -> int:
        return await resolve.hashtag_reel_count(info.context, self.db_id)

    @strawberry.field
    async def reels(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        sort: ReelSort | None = ReelSort.RECENT,
    ) -> ReelConnection:
        page: Page[models.Reel]
        if sort == ReelSort.POPULAR:
            page = await resolve.popular_reels_with_hashtag(
                info.context, self.db_id, page_size(first), after_edge(after)
            )
        else:
            page = await resolve.reels_with_hashtag(info.context, self.db_id, page_size(first), after_id(after))
        return ReelConnection.of(page, after)


@shows(models.Audio)
@strawberry.type
class Audio(Node):
    title: str
    db_id: strawberry.Private[int]
    original_reel_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Audio) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("Audio", row.id)),
            title=row.title,
            db_id=row.id,
            original_reel_id=row.original_reel_id,
        )

    @strawberry.field
    async def use_count(self, info: Info[Context, None]) -> int:
        return await resolve.audio_use_count(info.context, self.db_id)

    @strawberry.field(description="The reel whose sound this was first.")
    async def original_reel(
        self, info: Info[Context, None]
    ) -> Annotated[Reel, strawberry.lazy("reels.schema.types.reels")] | None:
        row = await resolve.visible_reel(info.context, self.original_reel_id)
        return reel_of(row) if row else None

    @strawberry.field
    async def reels(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        sort: ReelSort | None = ReelSort.RECENT,
    ) -> ReelConnection:
        page: Page[models.Reel]
        if sort == ReelSort.POPULAR:
            page = await resolve.popular_reels_with_audio(info.context, self.db_id, page_size(first), after_edge(after))
        else:
            page = await resolve.reels_with_audio(info.context, self.db_id, page_size(first), after_id(after))
        return ReelConnection.of(page, after)


@shows(discovery.HashtagTrend)
@strawberry.type(description="A hashtag (a challenge) ranked by how fast its use grows.")
class HashtagTrend:
    hashtag: Hashtag
    score: float = strawberry.field(description="Its uses, each weighing half as much every 6 hours since it happened.")
    uses_24h: int = strawberry.field(
        name="uses24h", description="Reels listed to everyone using it in the last 24 hours."
    )

    @classmethod
    def from_row(cls, row: discovery.HashtagTrend) -> Self:
        return cls(hashtag=Hashtag.from_row(row.hashtag), score=row.score, uses_24h=row.uses_24h)


@strawberry.type(description="A sound ranked by how fast its use grows.")
class AudioTrend:
    audio: Audio
    score: float = strawberry.field(description="Its uses, each weighing half as much every 6 hours since it happened.")
    uses_24h: int = strawberry.field(
        name="uses24h", description="Reels listed to everyone using it in the last 24 hours."
    )

    @classmethod
    def from_row(cls, row: discovery.AudioTrend) -> Self:
        return cls(audio=Audio.from_row(row.audio), score=row.score, uses_24h=row.uses_24h)


ExploreItem = Annotated[
    Union[  # noqa: UP007 - the lazy types are strings until the schema is built
        Annotated["Reel", strawberry.lazy("reels.schema.types.reels")],
        HashtagTrend,
        Annotated["User", strawberry.lazy("reels.schema.types.users")],
    ],
    strawberry.union("ExploreItem", description="A trending reel, a trending hashtag or a suggested creator."),
]


@strawberry.type
class ExploreConnection(Connection[ExploreItem]):
    pass
