"""Reels and how they play."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry
from strawberry.types import Info

from reels.dataloaders import ready
from reels.domain import models
from reels.domain.feed import FeedPage
from reels.domain.playback import PlaybackMedia, fitting
from reels.resolvers import comments as resolve_comments
from reels.resolvers.context import Context
from reels.schema.enums import FeedSource, ReelStatus, Visibility
from reels.schema.globalid import encode_cursor, to_global_id
from reels.schema.pagination import page_size
from reels.schema.types.connection import (
    CommentConnection,
    Node,
    PageInfo,
    ReelConnection,
    ReelEdge,
    after_id,
    shows,
)
from reels.schema.types.discovery import Audio, Hashtag
from reels.schema.types.engagement import ReelCounts
from reels.schema.types.users import User


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

    @classmethod
    def from_media(cls, media: PlaybackMedia) -> Self:
        return cls(
            hls_url=media.hls_url,
            renditions=[
                Rendition(width=r.width, height=r.height, bandwidth=r.bandwidth, playlist_url=r.playlist_url)
                for r in media.renditions
            ],
            startup_segment_url=media.startup_segment_url,
            preview_url=media.preview_url,
            startup_init_url=media.startup_init_url,
        )


@strawberry.type(description='Why the For You feed shows a reel, for the playground and "why am I seeing this".')
class FeedReason:
    source: FeedSource
    score: float = strawberry.field(
        description="The ranker's score (higher is better), or the trending score when ranking was skipped."
    )


@shows(models.Reel)
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
    width: int | None = strawberry.field(description="The source's width in pixels; null until it is probed.")
    height: int | None = strawberry.field(description="The source's height in pixels; null until it is probed.")
    row: strawberry.Private[models.Reel]

    @classmethod
    def from_row(cls, row: models.Reel) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("Reel", row.id)),
            caption=row.caption,
            status=row.status,
            status_reason=row.status_reason,
            visibility=row.visibility,
            duration_ms=row.duration_ms,
            created_at=row.created_at,
            width=row.width,
            height=row.height,
            row=row,
        )

    @strawberry.field(
        description="The reel's page in the web client, to share; it shows only to whom may see the reel."
    )
    def share_url(self, info: Info[Context, None]) -> str:
        return f"{info.context.platform.settings.public_url.rstrip('/')}/#/reel/{self.id}"

    @strawberry.field
    def thumbnail_url(self, info: Info[Context, None]) -> str | None:
        return info.context.playback.thumbnail_url(self.row)

    @strawberry.field(description="Null until the reel is READY.")
    def playback(self, info: Info[Context, None]) -> Playback | None:
        media = info.context.playback.playback(self.row)
        return Playback.from_media(media) if media else None

    @strawberry.field
    def creator(self, info: Info[Context, None]) -> User:
        return ready(info.context.loaders.user_by_id, self.row.creator_id, User.from_row)

    @strawberry.field
    async def hashtags(self, info: Info[Context, None]) -> list[Hashtag]:
        return [Hashtag.from_row(row) for row in await info.context.loaders.hashtags_by_reel.load(self.row.id)]

    @strawberry.field
    async def audio(self, info: Info[Context, None]) -> Audio | None:
        if self.row.audio_id is None:
            return None
        row = await info.context.loaders.audio_by_id.load(self.row.audio_id)
        return Audio.from_row(row) if row else None

    @strawberry.field
    def counts(self, info: Info[Context, None]) -> ReelCounts:
        return ready(
            info.context.loaders.counts_by_reel, self.row.id, lambda counts: ReelCounts.from_counts(self.row.id, counts)
        )

    @strawberry.field
    def viewer_has_liked(self, info: Info[Context, None]) -> bool:
        return ready(info.context.loaders.viewer_likes_reel, self.row.id, bool)

    @strawberry.field
    async def comments(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> CommentConnection:
        page = await resolve_comments.comments_of_reel(info.context, self.row.id, page_size(first), after_id(after))
        return CommentConnection.of(
            page, after, total_count=await resolve_comments.comment_count(info.context, self.row.id)
        )


def feed_connection(
    context: Context, page: FeedPage, after: str | None, device: str | None, with_playback: bool
) -> ReelConnection:
    """A For You page: each edge with its reason, and (`with_playback`) the playback fitting the device."""
    edges = []
    for item in page.items:
        media = context.playback.playback(item.reel) if with_playback else None
        edges.append(
            ReelEdge(
                cursor=encode_cursor(item.cursor),
                node=Reel.from_row(item.reel),
                reason=FeedReason(source=item.source, score=item.score),
                playback=Playback.from_media(fitting(media, device)) if media else None,
            )
        )
    page_info = PageInfo(
        has_next_page=page.has_next,
        end_cursor=edges[-1].cursor if edges else None,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
    )
    return ReelConnection(edges=edges, page_info=page_info)
