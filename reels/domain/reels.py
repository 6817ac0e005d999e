"""Editing a reel (its creator) and deleting one (its creator or a moderator); the lifecycle
keeps the counts and states."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain import lifecycle, uploads
from reels.domain.accounts import can_moderate
from reels.domain.errors import forbidden, not_found
from reels.domain.models import Reel, User, Visibility
from reels.domain.unit_of_work import unit_of_work
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue


async def delete_reel(
    sessions: async_sessionmaker[AsyncSession], queue: WorkQueue, bus: PubSub, actor: User, reel_id: int | None
) -> Reel:
    """Gone from every read path at once (deleted_at); its media leave every store by a job."""
    async with unit_of_work(sessions, queue, bus) as work:
        reel = await work.session.get(Reel, reel_id) if reel_id is not None else None
        if reel is None or reel.deleted_at is not None:
            raise not_found("reel", "reel_id")
        if reel.creator_id != actor.id and not can_moderate(actor):
            raise forbidden("only the creator or a moderator can delete a reel", "reel_id")
        if not await lifecycle.delete(work, reel.id):
            raise not_found("reel", "reel_id")  # deleted by someone else just now
    return reel


async def update_reel(
    sessions: async_sessionmaker[AsyncSession],
    queue: WorkQueue,
    bus: PubSub,
    actor: User,
    reel_id: int | None,
    *,
    caption: str | None,
    visibility: Visibility | None,
) -> Reel:
    """Change what was given: a new caption re-links its hashtags (moving their counts)."""
    async with unit_of_work(sessions, queue, bus) as work:
        reel = await work.session.get(Reel, reel_id) if reel_id is not None else None
        if reel is None or reel.deleted_at is not None:
            raise not_found("reel", "reel_id")
        if reel.creator_id != actor.id:
            raise forbidden("only the creator can edit a reel", "reel_id")
        if caption is not None:
            reel.caption = uploads.checked_caption(caption)
            tags = await uploads.hashtag_ids(work.session, uploads.hashtags_in(reel.caption))
            await lifecycle.retag(work, reel, tags)
        if visibility is not None:
            reel.visibility = visibility
    return reel
