"""Reports from users and the actions moderators take on them, each written to the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reels.domain.errors import DomainError, forbidden, invalid, not_found
from reels.domain.models import (
    ModerationLog,
    Reel,
    ReelStatus,
    Report,
    ReportReason,
    ReportStatus,
    Role,
    User,
)

DETAILS_MAX = 2000
REASON_MAX = 2000


def _text(value: str | None, limit: int, field: list[str], *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise invalid("a reason is required", field)
    if len(text) > limit:
        raise DomainError("TOO_LONG", f"limited to {limit} characters", field)
    return text or None


async def report_reel(
    session: AsyncSession, reporter: User, reel: Reel, reason: ReportReason, details: str | None
) -> Report:
    report = Report(
        reel_id=reel.id,
        reporter_id=reporter.id,
        reason=reason,
        details=_text(details, DETAILS_MAX, ["input", "details"], required=False),
    )
    session.add(report)
    await session.commit()
    return report


async def moderate_reel(session: AsyncSession, moderator: User, reel_id: int | None, block: bool, reason: str) -> Reel:
    why = _text(reason, REASON_MAX, ["input", "reason"], required=True)
    reel = await session.get(Reel, reel_id) if reel_id is not None else None
    if reel is None or reel.deleted_at is not None:
        raise not_found("reel", ["input", "reelId"])
    if block:
        reel.status, reel.status_reason = ReelStatus.BLOCKED, why
    else:
        if reel.status != ReelStatus.BLOCKED:
            raise invalid("only a blocked reel can be restored", ["input", "action"])
        if not (reel.media or {}).get("hls"):
            raise invalid("this reel was never processed; it cannot be restored", ["input", "action"])
        reel.status, reel.status_reason = ReelStatus.READY, None
    session.add(
        ModerationLog(
            moderator_id=moderator.id,
            action="BLOCK_REEL" if block else "RESTORE_REEL",
            reel_id=reel.id,
            reason=why or "",
        )
    )
    # Reports on the reel are settled by the action.
    if block:
        for report in (
            await session.scalars(select(Report).where(Report.reel_id == reel.id, Report.status == ReportStatus.OPEN))
        ).all():
            report.status, report.resolved_by_id = ReportStatus.ACTIONED, moderator.id
    await session.commit()
    return reel


async def resolve_report(
    session: AsyncSession, moderator: User, report_id: int | None, status: ReportStatus, note: str | None
) -> Report:
    report = await session.get(Report, report_id) if report_id is not None else None
    if report is None:
        raise not_found("report", ["input", "reportId"])
    if status == ReportStatus.OPEN:
        raise invalid("a report can be resolved as ACTIONED or DISMISSED", ["input", "status"])
    report.status, report.resolved_by_id = status, moderator.id
    report.resolution_note = _text(note, REASON_MAX, ["input", "note"], required=False)
    session.add(
        ModerationLog(
            moderator_id=moderator.id,
            action=f"REPORT_{status.value}",
            reel_id=report.reel_id,
            reason=report.resolution_note or "",
        )
    )
    await session.commit()
    return report


async def suspend_user(session: AsyncSession, moderator: User, user_id: int | None, reason: str) -> User:
    why = _text(reason, REASON_MAX, ["input", "reason"], required=True)
    user = await session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise not_found("user", ["input", "userId"])
    if user.id == moderator.id:
        raise invalid("you cannot suspend yourself", ["input", "userId"])
    if user.role != Role.USER and moderator.role != Role.ADMIN:
        raise forbidden("only an admin can suspend a moderator or admin", ["input", "userId"])
    if user.suspended_at is None:
        user.suspended_at, user.suspended_reason = datetime.now(UTC), why
        session.add(ModerationLog(moderator_id=moderator.id, action="SUSPEND_USER", user_id=user.id, reason=why or ""))
        await session.commit()
    return user
