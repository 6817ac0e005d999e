"""Reports and moderator actions."""

from __future__ import annotations

from sqlalchemy import select

from reels.domain import accounts, moderation
from reels.domain.errors import not_found
from reels.domain.events import SessionReason
from reels.domain.models import Reel, Report, ReportReason, ReportStatus, User
from reels.resolvers.context import Context
from reels.resolvers.pages import Page
from reels.resolvers.reels import visible_reel


async def reports(context: Context, status: ReportStatus, first: int, after: int | None) -> Page[Report]:
    query = select(Report).where(Report.status == status).order_by(Report.id.desc()).limit(first + 1)
    if after is not None:
        query = query.where(Report.id < after)
    async with context.platform.sessions() as session:
        return Page.of((await session.scalars(query)).all(), first)


async def report_reel(context: Context, reel_id: int | None, reason: ReportReason, details: str | None) -> Report:
    reel = await visible_reel(context, reel_id)
    if reel is None:
        raise not_found("reel", "reel_id")
    p = context.platform
    return await moderation.report_reel(
        p.sessions,
        p.queue,
        p.pubsub,
        context.signed_in,
        reel,
        reason,
        details,
        auto_hide_reporters=p.settings.auto_hide_reports,
    )


async def moderate_reel(context: Context, reel_id: int | None, *, block: bool, reason: str) -> Reel:
    p = context.platform
    return await moderation.moderate_reel(
        p.sessions, p.queue, p.pubsub, p.kv, context.signed_in, reel_id, block, reason, replicate=bool(p.replicas)
    )


async def resolve_report(context: Context, report_id: int | None, status: ReportStatus, note: str | None) -> Report:
    return await moderation.resolve_report(context.platform.sessions, context.signed_in, report_id, status, note)


async def suspend_user(context: Context, user_id: int | None, reason: str) -> User:
    user = await moderation.suspend_user(context.platform.sessions, context.signed_in, user_id, reason)
    # HTTP refuses the account's tokens from now on; its open sockets, on every process, close.
    await accounts.session_changed(context.platform.pubsub, user.id, SessionReason.SUSPENDED)
    return user
