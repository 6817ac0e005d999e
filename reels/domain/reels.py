"""A reel's lifecycle outside processing: deletion (media removed by a background job)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reels.domain.accounts import can_moderate
from reels.domain.errors import forbidden, not_found
from reels.domain.models import Hashtag, Reel, ReelHashtag, ReelStatus, User
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue
from reels.subscriptions import channels

MEDIA_TOPIC = "media"


async def delete_reel(session: AsyncSession, queue: WorkQueue, bus: PubSub, actor: User, reel_id: int | None) -> Reel:
    """Gone from every read path at once (deleted_at); its media leave every store by a job."""
    reel = await session.get(Reel, reel_id) if reel_id is not None else None
    if reel is None or reel.deleted_at is not None:
        raise not_found("reel", ["input", "reelId"])
    if reel.creator_id != actor.id and not can_moderate(actor):
        raise forbidden("only the creator or a moderator can delete a reel", ["input", "reelId"])
    if reel.status == ReelStatus.READY:
        tagged = select(ReelHashtag.hashtag_id).where(ReelHashtag.reel_id == reel.id)
        await session.execute(update(Hashtag).where(Hashtag.id.in_(tagged)).values(reel_count=Hashtag.reel_count - 1))
    reel.deleted_at = datetime.now(UTC)
    await session.commit()
    await queue.publish(MEDIA_TOPIC, {"type": "ReelDeleted", "reel_id": reel.id}, key=str(reel.id), lane="bulk")
    # Live reelStatus subscribers re-read the reel, find it gone and end.
    await channels.publish(bus, channels.reel_status(reel.id), {"status": reel.status.value, "deleted": True})
    return reel
