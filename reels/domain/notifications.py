"""Notifications: stored rows (the inbox) plus a live event on the user's channel."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from reels.domain.models import Notification, NotificationKind
from reels.ports.pubsub import PubSub
from reels.subscriptions import channels


def add(
    session: AsyncSession,
    user_id: int,
    kind: NotificationKind,
    *,
    actor_id: int | None = None,
    reel_id: int | None = None,
) -> Notification:
    """Stage a notification in the caller's transaction; `publish` it after the commit."""
    notification = Notification(user_id=user_id, kind=kind, actor_id=actor_id, reel_id=reel_id)
    session.add(notification)
    return notification


class Addressed(Protocol):
    """A stored notification's id and recipient: a row object, or a row RETURNING them."""

    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int: ...


async def publish(bus: PubSub, *notifications: Addressed) -> None:
    for notification in notifications:
        await channels.publish(bus, channels.notifications(notification.user_id), {"id": notification.id})
