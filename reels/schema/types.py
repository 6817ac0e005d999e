"""GraphQL object types. Leaves are plain attributes copied from rows; only relations resolve,
and each through a per-request DataLoader."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry
from strawberry.types import Info

from reels.domain import models
from reels.schema import enums
from reels.schema.context import Context
from reels.schema.globalid import to_global_id
from reels.schema.pagination import page_size

Role = enums.Role
ReelStatus = enums.ReelStatus
Visibility = enums.Visibility


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class UserError:
    field: list[str] = strawberry.field(
        description='Path of the input field at fault, e.g. ["input", "caption"]; empty when no single field is.'
    )
    message: str
    code: str = strawberry.field(
        description="Stable machine-readable code, e.g. NOT_FOUND, FORBIDDEN, INVALID, RATE_LIMITED, TOO_LONG."
    )


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
        from reels.resolvers import reels as resolve

        return await resolve.reels_of_creator(info, self.db_id, page_size(first), after)


@strawberry.type
class Rendition:
    width: int
    height: int
    bandwidth: int = strawberry.field(
        description="Peak video bitrate in bits per second, as in the master playlist's BANDWIDTH."
    )
    playlist_url: str


@strawberry.type
class Playback:
    hls_url: str = strawberry.field(description="HLS master playlist listing every rendition.")
    renditions: list[Rendition]
    startup_segment_url: str = strawberry.field(
        description="The first segment of the lowest rendition: what a client prefetches to start instantly."
    )
    preview_url: str | None = strawberry.field(description="A short, small, muted preview clip.")
    startup_init_url: str | None = strawberry.field(
        default=None,
        description="The fMP4 initialization section the startup segment needs (prefetch both to start instantly).",
    )


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


@strawberry.type
class Hashtag(Node):
    name: str
    reel_count: int
    db_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Hashtag) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("Hashtag", row.id)), name=row.name, reel_count=row.reel_count, db_id=row.id
        )

    @strawberry.field
    async def reels(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        from reels.resolvers import reels as resolve

        return await resolve.reels_with_hashtag(info, self.db_id, page_size(first), after)


@strawberry.type
class Audio(Node):
    title: str
    use_count: int
    db_id: strawberry.Private[int]
    original_reel_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Audio) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("Audio", row.id)),
            title=row.title,
            use_count=row.use_count,
            db_id=row.id,
            original_reel_id=row.original_reel_id,
        )

    @strawberry.field(description="The reel whose sound this was first.")
    async def original_reel(self, info: Info[Context, None]) -> Reel | None:
        from reels.resolvers import reels as resolve

        return await resolve.visible_reel(info, self.original_reel_id)

    @strawberry.field
    async def reels(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        from reels.resolvers import reels as resolve

        return await resolve.reels_with_audio(info, self.db_id, page_size(first), after)


@strawberry.type
class Reel(Node):
    caption: str
    status: ReelStatus
    status_reason: str | None = strawberry.field(
        description="Why processing failed or the reel was blocked; null otherwise."
    )
    visibility: Visibility
    duration_ms: int | None
    created_at: datetime
    thumbnail_url: str | None
    playback: Playback | None = strawberry.field(description="Null until the reel is READY.")
    db_id: strawberry.Private[int]
    creator_id: strawberry.Private[int]
    audio_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Reel, playback: Playback | None = None, thumbnail_url: str | None = None) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("Reel", row.id)),
            caption=row.caption,
            status=row.status,
            status_reason=row.status_reason,
            visibility=row.visibility,
            duration_ms=row.duration_ms,
            created_at=row.created_at,
            thumbnail_url=thumbnail_url,
            playback=playback,
            db_id=row.id,
            creator_id=row.creator_id,
            audio_id=row.audio_id,
        )

    @strawberry.field
    async def creator(self, info: Info[Context, None]) -> User:
        return User.from_row(await info.context.loaders.user_by_id.load(self.creator_id))

    @strawberry.field
    async def hashtags(self, info: Info[Context, None]) -> list[Hashtag]:
        return [Hashtag.from_row(row) for row in await info.context.loaders.hashtags_by_reel.load(self.db_id)]

    @strawberry.field
    async def audio(self, info: Info[Context, None]) -> Audio | None:
        if self.audio_id is None:
            return None
        row = await info.context.loaders.audio_by_id.load(self.audio_id)
        return Audio.from_row(row) if row else None

    @strawberry.field
    async def counts(self, info: Info[Context, None]) -> ReelCounts:
        return ReelCounts.from_counts(self.db_id, await info.context.loaders.counts_by_reel.load(self.db_id))

    @strawberry.field
    async def viewer_has_liked(self, info: Info[Context, None]) -> bool:
        return await info.context.loaders.viewer_likes_reel.load(self.db_id)

    @strawberry.field
    async def comments(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> CommentConnection:
        from reels.resolvers import comments as resolve

        return await resolve.comments_of_reel(info, self.db_id, page_size(first), after)


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
    async def reel(self, info: Info[Context, None]) -> Reel:
        from reels.resolvers import reels as resolve

        return resolve.to_reel(info, await info.context.loaders.reel_by_id.load(self.reel_id))

    @strawberry.field
    async def author(self, info: Info[Context, None]) -> User:
        return User.from_row(await info.context.loaders.user_by_id.load(self.author_id))


@strawberry.type
class ReelEdge:
    cursor: str
    node: Reel


@strawberry.type
class ReelConnection:
    edges: list[ReelEdge]
    page_info: PageInfo


@strawberry.type
class CommentEdge:
    cursor: str
    node: Comment


@strawberry.type
class CommentConnection:
    edges: list[CommentEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class UserEdge:
    cursor: str
    node: User


@strawberry.type
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo


@strawberry.type
class Report(Node):
    reason: enums.ReportReason
    details: str | None
    status: enums.ReportStatus
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
        from reels.resolvers import reels as resolve

        return resolve.to_reel(info, await info.context.loaders.reel_by_id.load(self.reel_id))

    @strawberry.field
    async def reporter(self, info: Info[Context, None]) -> User:
        return User.from_row(await info.context.loaders.user_by_id.load(self.reporter_id))


@strawberry.type
class ReportEdge:
    cursor: str
    node: Report


@strawberry.type
class ReportConnection:
    edges: list[ReportEdge]
    page_info: PageInfo


@strawberry.type
class Notification:
    kind: enums.NotificationKind
    created_at: datetime
    actor_id: strawberry.Private[int | None]
    reel_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Notification) -> Self:
        return cls(kind=row.kind, created_at=row.created_at, actor_id=row.actor_id, reel_id=row.reel_id)

    @strawberry.field
    async def actor(self, info: Info[Context, None]) -> User | None:
        if self.actor_id is None:
            return None
        row = await info.context.loaders.user_by_id.load(self.actor_id)
        return User.from_row(row) if row else None

    @strawberry.field
    async def reel(self, info: Info[Context, None]) -> Reel | None:
        from reels.resolvers import reels as resolve

        return await resolve.visible_reel(info, self.reel_id)
