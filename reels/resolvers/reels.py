"""Reel reads: single reels with the visibility rule, and reel lists of a creator, hashtag or audio."""

from __future__ import annotations

from strawberry.types import Info

from reels.dataloaders import PageKey
from reels.domain.models import Reel as ReelRow
from reels.domain.models import ReelStatus
from reels.domain.visibility import can_see_reel
from reels.http.media_routes import playlist_url
from reels.resolvers.connections import after_id, page
from reels.schema.context import Context
from reels.schema.globalid import db_id_of
from reels.schema.types import Playback, Reel, ReelConnection, ReelEdge, Rendition


def to_reel(info: Info[Context, None], row: ReelRow) -> Reel:
    """The GraphQL reel, with media URLs signed (or on the CDN) for this response. Playlists go
    through the app's `/playlists/` route, which signs the URIs inside them (see
    `reels.http.media_routes`); everything else comes straight from the store."""
    platform = info.context.platform
    store = platform.store
    media = row.media or {}
    playback = None
    if row.status == ReelStatus.READY and media.get("hls"):
        playback = Playback(
            hls_url=playlist_url(platform, media["hls"]),
            renditions=[
                Rendition(
                    width=r["width"],
                    height=r["height"],
                    bandwidth=r["bandwidth"],
                    playlist_url=playlist_url(platform, r["playlist"]),
                )
                for r in media.get("renditions", [])
            ],
            startup_segment_url=store.url(media["startup_segment"]),
            preview_url=store.url(media["preview"]) if media.get("preview") else None,
            startup_init_url=store.url(media["startup_init"]) if media.get("startup_init") else None,
        )
    thumbnail = store.url(media["thumbnail"]) if media.get("thumbnail") else None
    return Reel.from_row(row, playback=playback, thumbnail_url=thumbnail)


async def visible_reel(info: Info[Context, None], reel_id: int | None) -> Reel | None:
    """The reel if it exists and the viewer may see it; None otherwise (no existence leak)."""
    if reel_id is None:
        return None
    loaders = info.context.loaders
    row = await loaders.reel_by_id.load(reel_id)
    if row is None:
        return None
    follows = await loaders.viewer_follows_user.load(row.creator_id)
    blocked = await loaders.viewer_blocked_either_way.load(row.creator_id)
    if not can_see_reel(row, info.context.viewer, viewer_follows_creator=follows, blocked_either_way=blocked):
        return None
    return to_reel(info, row)


async def reel_by_global_id(info: Info[Context, None], global_id: str) -> Reel | None:
    return await visible_reel(info, db_id_of(global_id, "Reel"))


async def reels_of_creator(info: Info[Context, None], creator_id: int, first: int, after: str | None) -> ReelConnection:
    loaders = info.context.loaders
    if await loaders.viewer_blocked_either_way.load(creator_id):
        return _connection(info, [], first)
    follows = await loaders.viewer_follows_user.load(creator_id)
    key = PageKey(creator_id, first, after_id(after), include_followers_only=follows)
    return _connection(info, await loaders.reel_pages_by_creator.load(key), first)


async def reels_with_hashtag(
    info: Info[Context, None], hashtag_id: int, first: int, after: str | None
) -> ReelConnection:
    rows = await info.context.loaders.reel_pages_by_hashtag.load(PageKey(hashtag_id, first, after_id(after)))
    return await without_blocked_creators(info, rows, first)


async def reels_with_audio(info: Info[Context, None], audio_id: int, first: int, after: str | None) -> ReelConnection:
    rows = await info.context.loaders.reel_pages_by_audio.load(PageKey(audio_id, first, after_id(after)))
    return await without_blocked_creators(info, rows, first)


async def without_blocked_creators(info: Info[Context, None], rows: list[ReelRow], first: int) -> ReelConnection:
    blocked = await info.context.loaders.viewer_blocked_either_way.load_many([row.creator_id for row in rows])
    return _connection(info, [row for row, hidden in zip(rows, blocked, strict=True) if not hidden], first)


def _connection(info: Info[Context, None], rows: list[ReelRow], first: int) -> ReelConnection:
    edges, page_info = page(rows, first, lambda row: to_reel(info, row), ReelEdge)
    return ReelConnection(edges=edges, page_info=page_info)
