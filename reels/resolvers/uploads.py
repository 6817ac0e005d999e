"""Upload mutations, editing and deleting reels."""

from __future__ import annotations

from reels.domain import reels, uploads
from reels.domain.models import Reel, Visibility
from reels.resolvers.context import Context


async def create_upload(
    context: Context,
    *,
    caption: str,
    visibility: Visibility,
    file_size: int,
    content_type: str,
    audio_id: int | None,
    audio_title: str | None,
) -> uploads.StartedUpload:
    p = context.platform
    return await uploads.create_upload(
        p.sessions,
        p.store,
        p.settings,
        context.signed_in,
        caption=caption,
        visibility=visibility,
        file_size=file_size,
        content_type=content_type,
        audio_id=audio_id,
        audio_title=audio_title,
    )


async def resume_upload(context: Context, upload_id: str) -> uploads.Resumed:
    p = context.platform
    return await uploads.resume_upload(p.sessions, p.store, context.signed_in, upload_id)


async def complete_upload(context: Context, upload_id: str, parts: list[tuple[int, str]]) -> Reel:
    p = context.platform
    return await uploads.complete_upload(p.sessions, p.store, p.queue, p.pubsub, context.signed_in, upload_id, parts)


async def update_reel(
    context: Context, reel_id: int | None, *, caption: str | None, visibility: Visibility | None
) -> Reel:
    p = context.platform
    return await reels.update_reel(
        p.sessions, p.queue, p.pubsub, context.signed_in, reel_id, caption=caption, visibility=visibility
    )


async def delete_reel(context: Context, reel_id: int | None) -> Reel:
    p = context.platform
    return await reels.delete_reel(p.sessions, p.queue, p.pubsub, context.signed_in, reel_id)
