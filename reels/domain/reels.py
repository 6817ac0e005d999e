"""Deleting a reel: its creator or a moderator; the lifecycle does the rest."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain import lifecycle
from reels.domain.accounts import can_moderate
from reels.domain.errors import forbidden, not_found
from reels.domain.models import Reel, User
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
