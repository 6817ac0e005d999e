"""Engagement: likes, views, comments and shares.

The truth lives in rows where it must (a like per (reel, user), a comment per comment); counts
never cost a database write per event: every change is an event on the `engagement` queue,
partitioned by reel, that the aggregator (reels.workers.aggregator) folds into batched writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    bindparam,
    delete,
    exists,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels import db
from reels.domain import events, feed_sessions, notifications
from reels.domain.accounts import can_moderate
from reels.domain.errors import DomainError, ErrorCode, forbidden, invalid, not_found, rate_limited
from reels.domain.events import Commented, Liked, NotificationAdded, Shared, Uncommented, Unliked, Viewed
from reels.domain.ids import new_id
from reels.domain.models import Comment, Like, Notification, NotificationKind, Reel, User, utcnow
from reels.domain.screening import Checks, refuse_comment
from reels.domain.unit_of_work import unit_of_work
from reels.ports.kv import KeyValue
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue

COMMENT_MAX = 2200
VIEW_MILESTONE_MS = 3000
# A watch longer than this many times the reel is not a watch; it is a broken or lying client.
MAX_WATCH_FACTOR = 10
# Counted views in any 60 s beyond which an account is flagged and its views stop counting:
# a person cannot watch 3 s of more than 20 reels a minute.
MAX_VIEWS_PER_MINUTE = 20
# The wall clock (seconds) the view rate is measured by; shared by API processes, moved by tests.
view_rate_clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per user and action."""

    action: str
    per_second: float
    burst: int


LIKES = RateLimit("like", per_second=2.0, burst=30)
COMMENTS = RateLimit("comment", per_second=0.2, burst=10)
FOLLOWS = RateLimit("follow", per_second=0.5, burst=30)
SHARES = RateLimit("share", per_second=1.0, burst=20)


def liked_by_bound_viewer(reel_id: ColumnExpressionArgument[int]) -> ColumnElement[bool]:
    """Whether the viewer whose id is the bound parameter `viewer_id` (None: no one) likes the reel
    `reel_id`: a column read with a page's reels, so that their `viewerHasLiked` costs no
    statement of its own."""
    return exists().where(Like.user_id == bindparam("viewer_id"), Like.reel_id == reel_id).label("viewer_liked")


async def check_rate(kv: KeyValue, limit: RateLimit, user_id: int) -> None:
    taken, retry_after = await kv.take_token(
        f"ratelimit:{limit.action}:{user_id}", rate_per_s=limit.per_second, burst=limit.burst
    )
    if not taken:
        raise rate_limited(f"too many {limit.action}s", retry_after)


# Built once per dialect, on the table rather than the mapped class: building the INSERT and
# coercing its values, and the ORM's DML layer, were a sixth of a like's CPU.
_LIKES = db.table_of(Like)
_LIKE_INSERT = {
    dialect: db.insert_for(dialect, _LIKES)
    .on_conflict_do_nothing()
    .values(reel_id=bindparam("reel_id"), user_id=bindparam("user_id"), created_at=bindparam("at"))
    .returning(_LIKES.c.reel_id)
    for dialect in db.DIALECTS
}


def _like_on_postgresql(*, tell: bool) -> db.DriverStatement:
    """PostgreSQL's like in one statement: the like and, when it is new and `tell`, the
    creator's notification (the statement selects nothing for a like that was there already)."""
    liked = _LIKE_INSERT["postgresql"].cte("liked")
    statement = select(liked.c.reel_id)
    if tell:
        told = notifications.insert_each(
            select(
                bindparam("notification_id", type_=Notification.id.type),
                bindparam("creator_id", type_=Notification.user_id.type),
                literal(NotificationKind.LIKED, Notification.kind.type),
                bindparam("user_id", type_=Notification.actor_id.type),
                liked.c.reel_id,
                bindparam("at", type_=Notification.created_at.type),
            ).select_from(liked)
        ).cte("told")
        statement = statement.add_cte(told)
    return db.DriverStatement(statement)


_LIKE_AND_TELL = _like_on_postgresql(tell=True)
_LIKE_OWN = _like_on_postgresql(tell=False)


async def like(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, queue: WorkQueue, bus: PubSub, user: User, reel: Reel
) -> bool:
    """Idempotent; True when this call created the like (and so counted it), and told the
    creator (unless the reel is the user's own).

    On PostgreSQL the writes are one statement, run on the driver outside a transaction (it
    commits as it ends): a transaction's BEGIN, a second INSERT and COMMIT were three of a
    like's round trips and a tenth of its CPU, and a session's execution of the statement
    another tenth. As after a unit of work's commit, the job is queued and the event published
    once it is written. SQLite, in process, writes the two rows in one transaction."""
    await check_rate(kv, LIKES, user.id)
    tell = reel.creator_id != user.id
    params = {"reel_id": reel.id, "user_id": user.id, "at": utcnow()}
    engine = db.engine_of(sessions)
    if engine.dialect.name == "postgresql":
        if not tell:
            created = await _LIKE_OWN.rows(engine, params)
        else:
            told = NotificationAdded(reel.creator_id, new_id())
            created = await _LIKE_AND_TELL.rows(
                engine, {**params, "notification_id": told.notification_id, "creator_id": told.user_id}
            )
        if not created:  # liked already
            return False
        await events.send(queue, Liked(reel.id, user.id))
        if tell:
            await events.publish(bus, told)
        return True
    async with unit_of_work(sessions, queue, bus) as work:
        created = await work.session.scalar(_LIKE_INSERT["sqlite"], params)
        if created is None:  # liked already
            return False
        if tell:
            await notifications.add(work, reel.creator_id, NotificationKind.LIKED, actor_id=user.id, reel_id=reel.id)
        work.send(Liked(reel.id, user.id))
    return True


async def unlike(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, queue: WorkQueue, user: User, reel: Reel
) -> bool:
    await check_rate(kv, LIKES, user.id)
    async with sessions.begin() as session:
        removed = await session.scalar(
            delete(Like).where(Like.reel_id == reel.id, Like.user_id == user.id).returning(Like.reel_id)
        )
    if removed is None:
        return False
    await events.send(queue, Unliked(reel.id, user.id))
    return True


async def share(kv: KeyValue, queue: WorkQueue, user: User, reel: Reel) -> None:
    await check_rate(kv, SHARES, user.id)
    await events.send(queue, Shared(reel.id, user.id))


@dataclass(frozen=True)
class Viewer:
    """Who watched: a signed-in user, or an anonymous client by its session id and address."""

    user: User | None
    session_id: str | None
    address: str = "-"

    @property
    def key(self) -> str | None:
        return feed_sessions.viewer_key(self.user.id if self.user is not None else None, self.session_id)


async def record_view(
    sessions: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    queue: WorkQueue,
    viewer: Viewer,
    reel: Reel,
    *,
    watched_ms: int,
    completed: bool,
    window_s: int,
    context: dict[str, Any],
    anonymous_per_address: int,
) -> bool:
    """Store the watch (always: the ranker learns from it) and count a view at the 3-second
    milestone or on completion, once per viewer and reel per window, and of anonymous viewers at
    most `anonymous_per_address` per client address and reel per window (new session ids are
    free to make). True when counted."""
    limit = MAX_WATCH_FACTOR * (reel.duration_ms or 90_000)
    if not 0 <= watched_ms <= limit:
        raise invalid(f"watchedMs must be between 0 and {limit} for this reel", "watched_ms")
    if viewer.session_id is not None and not viewer.session_id.isprintable():
        # PostgreSQL cannot store a NUL: queued, such a watch would fail every aggregator flush.
        raise invalid("a sessionId must be printable text", "session_id")
    counted = False
    if (watched_ms >= VIEW_MILESTONE_MS or completed) and viewer.key is not None:
        counted = await kv.set(f"viewed:{reel.id}:{viewer.key}", "1", ttl_s=window_s, only_if_absent=True)
        if counted and viewer.user is None:
            address_views = await kv.incr(f"viewed:{reel.id}:a{viewer.address}", ttl_s=window_s)
            counted = address_views <= anonymous_per_address
        if counted and await _implausible_rate(sessions, kv, viewer, reel.id):
            counted = False
    await events.send(
        queue,
        Viewed(
            reel.id,
            counted=counted,
            viewer_id=viewer.user.id if viewer.user else None,
            session_id=viewer.session_id,
            watched_ms=watched_ms,
            completed=completed,
            context=context,
            at=datetime.now(UTC).isoformat(),
        ),
    )
    return counted


async def _implausible_rate(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, viewer: Viewer, reel_id: int
) -> bool:
    """Log this view in the viewer's last 21 counted views; when the oldest of them is under a
    minute old, the account is past its budget: flagged (kept in the database for moderators)
    and no longer counted. A sliding minute: calendar minutes would let a bot count 40 views in
    the two seconds around the turn of one."""
    if viewer.user is not None and viewer.user.views_flagged_at is not None:
        return True
    now = view_rate_clock()
    key = f"viewrate:{viewer.key}"
    await kv.zadd_capped({key: {f"{reel_id}:{now!r}": now}}, keep=MAX_VIEWS_PER_MINUTE + 1, ttl_s=60)
    past_budget = await kv.zrange_desc(key, MAX_VIEWS_PER_MINUTE, MAX_VIEWS_PER_MINUTE)
    if not past_budget or past_budget[0][1] <= now - 60:
        return False
    if viewer.user is not None:
        async with sessions.begin() as session:
            await session.execute(
                update(User)
                .where(User.id == viewer.user.id, User.views_flagged_at.is_(None))
                .values(views_flagged_at=datetime.now(UTC))
            )
    return True


async def add_comment(
    sessions: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    queue: WorkQueue,
    bus: PubSub,
    checks: Checks,
    author: User,
    reel: Reel,
    text: str,
) -> Comment:
    body = text.strip()
    if not body:
        raise invalid("a comment cannot be empty", "text")
    if len(body) > COMMENT_MAX:
        raise DomainError(ErrorCode.TOO_LONG, f"a comment is limited to {COMMENT_MAX} characters", "text")
    refuse_comment(checks, body)
    await check_rate(kv, COMMENTS, author.id)
    async with unit_of_work(sessions, queue, bus) as work:
        comment = Comment(id=new_id(), reel_id=reel.id, author_id=author.id, text=body)
        work.session.add(comment)
        work.send(Commented(reel.id, comment.id))
        if reel.creator_id != author.id:
            await notifications.add(
                work, reel.creator_id, NotificationKind.COMMENTED, actor_id=author.id, reel_id=reel.id
            )
    return comment


async def delete_comment(
    sessions: async_sessionmaker[AsyncSession],
    queue: WorkQueue,
    actor: User,
    comment_id: int | None,
) -> Comment:
    """The author, the reel's creator or a moderator may delete a comment."""
    async with sessions.begin() as session:
        found = (
            (
                await session.execute(
                    select(Comment, Reel.creator_id)
                    .join(Reel, Reel.id == Comment.reel_id)
                    .where(Comment.id == comment_id)
                )
            ).one_or_none()
            if comment_id is not None
            else None
        )
        if found is None or found[0].deleted_at is not None:
            raise not_found("comment", "comment_id")
        comment, creator_id = found
        if actor.id not in (comment.author_id, creator_id) and not can_moderate(actor):
            raise forbidden("only the author, the reel's creator or a moderator can delete this comment", "comment_id")
        comment.deleted_at = datetime.now(UTC)
    await events.send(queue, Uncommented(comment.reel_id, comment.id))
    return comment
