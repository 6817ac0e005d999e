"""Notifications: stored rows (the inbox) plus a live event on the user's channel. The inbox
holds every notification, so a client that was away (a dropped socket) reads what it missed.
A block deletes the notifications between the two users, so the inbox, its pages and its counts
are plain SQL and always agree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, Select, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels import db
from reels.domain.errors import not_found
from reels.domain.events import NotificationAdded
from reels.domain.ids import new_id
from reels.domain.models import Notification, NotificationKind, utcnow
from reels.domain.unit_of_work import UnitOfWork

_TABLE = db.table_of(Notification)
# The table's INSERT, built once: the ORM's flush of one new object cost more than the row.
_INSERT = insert(_TABLE).values(
    id=bindparam("id"),
    user_id=bindparam("user_id"),
    kind=bindparam("kind"),
    actor_id=bindparam("actor_id"),
    reel_id=bindparam("reel_id"),
)


async def add(
    work: UnitOfWork,
    user_id: int,
    kind: NotificationKind,
    *,
    actor_id: int | None = None,
    reel_id: int | None = None,
) -> None:
    """Store a notification in the work's transaction; its live event goes out after the commit."""
    notification_id = new_id()
    await work.session.execute(
        _INSERT, {"id": notification_id, "user_id": user_id, "kind": kind, "actor_id": actor_id, "reel_id": reel_id}
    )
    work.publish(NotificationAdded(user_id, notification_id))


def insert_each(rows: Select[Any]) -> Insert:
    """An INSERT of a notification for each row of `rows`, which select its id, user_id, kind,
    actor_id, reel_id and created_at: for a write that notifies in the same statement (whose
    caller then publishes each NotificationAdded, as `add` has its unit of work do)."""
    return insert(_TABLE).from_select(["id", "user_id", "kind", "actor_id", "reel_id", "created_at"], rows)


async def forget_between(sessions: async_sessionmaker[AsyncSession], one: int, other: int) -> None:
    """Delete what either user was told of the other (a block hides each from the other)."""
    async with sessions.begin() as session:
        await session.execute(
            delete(Notification).where(
                or_(
                    and_(Notification.user_id == one, Notification.actor_id == other),
                    and_(Notification.user_id == other, Notification.actor_id == one),
                )
            )
        )


async def inbox(session: AsyncSession, user_id: int, first: int, after_id: int | None) -> Sequence[Notification]:
    """The user's notifications newest first (ids are time-ordered): `first + 1` rows, the extra
    one saying a next page exists."""
    query = select(Notification).where(Notification.user_id == user_id)
    if after_id is not None:
        query = query.where(Notification.id < after_id)
    return (await session.scalars(query.order_by(Notification.id.desc()).limit(first + 1))).all()


async def count(session: AsyncSession, user_id: int) -> int:
    return (await session.scalar(select(func.count()).where(Notification.user_id == user_id))) or 0


async def unread_count(session: AsyncSession, user_id: int) -> int:
    unread = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return (await session.scalar(unread)) or 0


async def mark_read(
    sessions: async_sessionmaker[AsyncSession], user_id: int, ids: Sequence[int | None]
) -> list[Notification]:
    """Mark the user's notifications read (those already read keep their first reading time);
    NOT_FOUND when any id is not one of the user's notifications, and then nothing changes."""
    wanted = set(ids)
    if None in wanted:
        raise not_found("notification", "ids")
    async with sessions() as session:
        owned = select(Notification.id).where(Notification.user_id == user_id, Notification.id.in_(wanted))
        if set((await session.scalars(owned)).all()) != wanted:
            raise not_found("notification", "ids")
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(wanted), Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        await session.commit()
        marked = select(Notification).where(Notification.id.in_(wanted)).order_by(Notification.id.desc())
        return list((await session.scalars(marked)).all())
