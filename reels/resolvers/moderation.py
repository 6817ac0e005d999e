"""Reports and moderator actions."""

from __future__ import annotations

from sqlalchemy import and_, case, or_, select

from reels.domain import accounts, integrity, moderation
from reels.domain.errors import not_found
from reels.domain.events import SessionReason
from reels.domain.models import ModerationLog, Reel, ReelStatus, Report, ReportReason, ReportStatus, Role, User
from reels.resolvers.context import Context
from reels.resolvers.pages import Page
from reels.resolvers.reels import visible_reel


async def reports(
    context: Context, status: ReportStatus, reason: ReportReason | None, first: int, after: tuple[int, ...] | None
) -> Page[Report]:
    """Reports of HELD reels (waiting for review, out of feeds) first, then the rest, each newest first."""
    held = case((Reel.status == ReelStatus.HELD, 1), else_=0)
    query = (
        select(Report, held)
        .join(Reel, Reel.id == Report.reel_id)
        .where(Report.status == status)
        .order_by(held.desc(), Report.id.desc())
        .limit(first + 1)
    )
    if reason is not None:
        query = query.where(Report.reason == reason)
    if after is not None:
        after_held, after_id = after
        query = query.where(or_(held < after_held, and_(held == after_held, Report.id < after_id)))
    async with context.platform.sessions() as session:
        rows = (await session.execute(query)).all()
    held_of = {report.id: flag for report, flag in rows}
    page = Page.of([report for report, _ in rows], first)
    return Page(page.rows, page.has_next, position=lambda report: (held_of[report.id], report.id))


async def held_reels(context: Context, first: int, after: int | None) -> Page[Reel]:
    query = (
        select(Reel)
        .where(Reel.status == ReelStatus.HELD, Reel.deleted_at.is_(None))
        .order_by(Reel.id.desc())
        .limit(first + 1)
    )
    if after is not None:
        query = query.where(Reel.id < after)
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


async def moderation_log(context: Context, first: int, after: int | None) -> Page[ModerationLog]:
    """Newest first (ids are Snowflakes: time-ordered)."""
    query = select(ModerationLog).order_by(ModerationLog.id.desc()).limit(first + 1)
    if after is not None:
        query = query.where(ModerationLog.id < after)
    async with context.platform.sessions() as session:
        return Page.of((await session.scalars(query)).all(), first)


async def set_user_role(context: Context, user_id: int | None, role: Role) -> User:
    return await accounts.set_role(
        context.platform.sessions, context.platform.pubsub, role, user_id=user_id, by=context.signed_in
    )


async def clear_engagement_flag(context: Context, user_id: int | None, reason: str) -> User:
    p = context.platform
    return await integrity.clear_flag(p.sessions, p.kv, p.queue, p.pubsub, context.signed_in, user_id, reason)
