"""The viewer's notification inbox."""

from __future__ import annotations

from collections.abc import Sequence

from reels.domain import notifications
from reels.domain.models import Notification
from reels.resolvers.context import Context
from reels.resolvers.pages import Page


async def inbox(context: Context, first: int, after: int | None) -> Page[Notification]:
    """Newest first (a block deleted those between the two users)."""
    async with context.platform.sessions() as session:
        return Page.of(await notifications.inbox(session, context.signed_in.id, first, after), first)


async def count(context: Context) -> int:
    async with context.platform.sessions() as session:
        return await notifications.count(session, context.signed_in.id)


async def unread_count(context: Context) -> int:
    async with context.platform.sessions() as session:
        return await notifications.unread_count(session, context.signed_in.id)


async def mark_read(context: Context, ids: Sequence[int | None]) -> list[Notification]:
    return await notifications.mark_read(context.platform.sessions, context.signed_in.id, ids)
