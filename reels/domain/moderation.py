"""Reports from users and the actions moderators take on them, each written to the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import distinct, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain import audit, lifecycle, screening
from reels.domain.errors import DomainError, ErrorCode, forbidden, invalid, not_found
from reels.domain.models import AuditAction, Reel, Report, ReportReason, ReportStatus, Role, User
from reels.domain.unit_of_work import unit_of_work
from reels.ports.kv import KeyValue
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue

DETAILS_MAX = 2000
REASON_MAX = 2000


def _text(value: str | None, limit: int, field: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise invalid("a reason is required", field)
    if len(text) > limit:
        raise DomainError(ErrorCode.TOO_LONG, f"limited to {limit} characters", field)
    return text or None


async def report_reel(
    sessions: async_sessionmaker[AsyncSession],
    queue: WorkQueue,
    bus: PubSub,
    reporter: User,
    reel: Reel,
    reason: ReportReason,
    details: str | None,
    *,
    auto_hide_reporters: int,
) -> Report:
    """File a report, or return the reporter's open report of the reel (a repeat is a no-op).
    The report that makes `auto_hide_reporters` distinct users holds the reel for review."""
    text = _text(details, DETAILS_MAX, "details", required=False)
    try:
        async with unit_of_work(sessions, queue, bus) as work:
            existing = await _open_report(work.session, reel.id, reporter.id)
            if existing is not None:
                return existing
            report = Report(reel_id=reel.id, reporter_id=reporter.id, reason=reason, details=text)
            work.session.add(report)
            await work.session.flush()
            reporters = await work.session.scalar(
                select(func.count(distinct(Report.reporter_id))).where(
                    Report.reel_id == reel.id, Report.status == ReportStatus.OPEN
                )
            )
            if (reporters or 0) >= auto_hide_reporters:
                why = f"held for review: reported by {reporters} users"
                if await lifecycle.hold_for_review(work, reel.id, why):
                    audit.record(work.session, AuditAction.HOLD_REEL, why, check=audit.REPORTS_CHECK, reel_id=reel.id)
        return report
    except IntegrityError:  # the same reporter's report of the same reel, filed at the same moment
        async with sessions() as session:
            existing = await _open_report(session, reel.id, reporter.id)
        if existing is None:
            raise
        return existing


async def _open_report(session: AsyncSession, reel_id: int, reporter_id: int) -> Report | None:
    found: Report | None = await session.scalar(
        select(Report).where(
            Report.reel_id == reel_id, Report.reporter_id == reporter_id, Report.status == ReportStatus.OPEN
        )
    )
    return found


async def moderate_reel(
    sessions: async_sessionmaker[AsyncSession],
    queue: WorkQueue,
    bus: PubSub,
    cache: KeyValue,
    moderator: User,
    reel_id: int | None,
    block: bool,
    reason: str,
    *,
    replicate: bool,
) -> Reel:
    """Block a reel (it leaves every read path, its open reports are actioned, and the re-upload
    check stops its copies) or restore a blocked or held one (its open reports are dismissed;
    `replicate`: a held reel, newly READY, is copied to the replica stores); either way written
    to the audit log."""
    why = _text(reason, REASON_MAX, "reason", required=True)
    async with unit_of_work(sessions, queue, bus) as work:
        reel = await work.session.get(Reel, reel_id) if reel_id is not None else None
        if reel is None or reel.deleted_at is not None:
            raise not_found("reel", "reel_id")
        if block:
            reel = await lifecycle.block(work, reel, why or "")
            await work.session.execute(
                update(Report)
                .where(Report.reel_id == reel.id, Report.status == ReportStatus.OPEN)
                .values(status=ReportStatus.ACTIONED, resolved_by_id=moderator.id)
            )
        else:
            reel = await lifecycle.restore(work, reel, replicate=replicate)
            # Reviewed: the reports that held it are settled, or the next one would hold it again.
            await work.session.execute(
                update(Report)
                .where(Report.reel_id == reel.id, Report.status == ReportStatus.OPEN)
                .values(status=ReportStatus.DISMISSED, resolved_by_id=moderator.id)
            )
        action = AuditAction.BLOCK_REEL if block else AuditAction.RESTORE_REEL
        audit.record(work.session, action, why or "", by=moderator, reel_id=reel.id)
    await screening.blocked_reels_changed(cache)
    return reel


async def resolve_report(
    sessions: async_sessionmaker[AsyncSession],
    moderator: User,
    report_id: int | None,
    status: ReportStatus,
    note: str | None,
) -> Report:
    async with sessions.begin() as session:
        report = await session.get(Report, report_id) if report_id is not None else None
        if report is None:
            raise not_found("report", "report_id")
        if status == ReportStatus.OPEN:
            raise invalid("a report can be resolved as ACTIONED or DISMISSED", "status")
        report.status, report.resolved_by_id = status, moderator.id
        report.resolution_note = _text(note, REASON_MAX, "note", required=False)
        action = AuditAction.REPORT_ACTIONED if status == ReportStatus.ACTIONED else AuditAction.REPORT_DISMISSED
        audit.record(session, action, report.resolution_note or "", by=moderator, reel_id=report.reel_id)
    return report


async def suspend_user(
    sessions: async_sessionmaker[AsyncSession], moderator: User, user_id: int | None, reason: str
) -> User:
    why = _text(reason, REASON_MAX, "reason", required=True)
    async with sessions.begin() as session:
        user = await session.get(User, user_id) if user_id is not None else None
        if user is None:
            raise not_found("user", "user_id")
        if user.id == moderator.id:
            raise invalid("you cannot suspend yourself", "user_id")
        if user.role != Role.USER and moderator.role != Role.ADMIN:
            raise forbidden("only an admin can suspend a moderator or admin", "user_id")
        if user.suspended_at is None:
            user.suspended_at, user.suspended_reason = datetime.now(UTC), why
            audit.record(session, AuditAction.SUSPEND_USER, why or "", by=moderator, user_id=user.id)
    return user
