"""Past engagement imported in bulk (the demo's simulated history).

The same rows and the same engagement events as live likes, comments and views, dated when
they happened, so the aggregator counts them and stores the watches the ranker learns from.
Without rate limits or notifications: this is a record of the past, not activity now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels import db
from reels.domain.engagement import VIEW_MILESTONE_MS
from reels.domain.events import Commented, Liked, Viewed
from reels.domain.ids import new_id
from reels.domain.models import Comment, Like
from reels.domain.unit_of_work import unit_of_work
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue

ROWS_PER_STATEMENT = 500  # under SQLite's bound-parameter limit


@dataclass(frozen=True)
class PastWatch:
    reel_id: int
    viewer_id: int
    watched_ms: int
    completed: bool
    context: dict[str, Any]
    at: datetime  # timezone-aware


@dataclass(frozen=True)
class PastLike:
    reel_id: int
    user_id: int
    at: datetime


@dataclass(frozen=True)
class PastComment:
    reel_id: int
    author_id: int
    text: str
    at: datetime


async def import_engagement(
    sessions: async_sessionmaker[AsyncSession],
    queue: WorkQueue,
    bus: PubSub,
    *,
    watches: Sequence[PastWatch],
    likes: Sequence[PastLike],
    comments: Sequence[PastComment],
) -> None:
    """One transaction for the rows; the events go out after it. A like that exists already
    is neither stored nor counted again. Each watch is one viewer's only watch of that reel, so
    it counts as a view by the live rule: at 3 s or on completion."""
    async with unit_of_work(sessions, queue, bus) as work:
        for start in range(0, len(likes), ROWS_PER_STATEMENT):
            chunk = likes[start : start + ROWS_PER_STATEMENT]
            created = await work.session.execute(
                db.insert(work.session, Like)
                .values([{"reel_id": like.reel_id, "user_id": like.user_id, "created_at": like.at} for like in chunk])
                .on_conflict_do_nothing()
                .returning(Like.reel_id, Like.user_id)
            )
            for reel_id, user_id in created.all():
                work.send(Liked(reel_id, user_id))
        for comment in comments:
            row = Comment(
                id=new_id(),
                reel_id=comment.reel_id,
                author_id=comment.author_id,
                text=comment.text,
                created_at=comment.at,
            )
            work.session.add(row)
            work.send(Commented(comment.reel_id, row.id))
        for watch in watches:
            work.send(
                Viewed(
                    watch.reel_id,
                    counted=watch.watched_ms >= VIEW_MILESTONE_MS or watch.completed,
                    viewer_id=watch.viewer_id,
                    session_id=None,
                    watched_ms=watch.watched_ms,
                    completed=watch.completed,
                    context=watch.context,
                    at=watch.at.isoformat(),
                )
            )
