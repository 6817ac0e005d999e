"""Notifications: stored rows (the inbox) plus a live event on the user's channel."""

from __future__ import annotations

from reels.domain.events import NotificationAdded
from reels.domain.ids import new_id
from reels.domain.models import Notification, NotificationKind
from reels.domain.unit_of_work import UnitOfWork


def add(
    work: UnitOfWork,
    user_id: int,
    kind: NotificationKind,
    *,
    actor_id: int | None = None,
    reel_id: int | None = None,
) -> Notification:
    """Store a notification in the work's transaction; its live event goes out after the commit."""
    notification = Notification(id=new_id(), user_id=user_id, kind=kind, actor_id=actor_id, reel_id=reel_id)
    work.session.add(notification)
    work.publish(NotificationAdded(user_id, notification.id))
    return notification
