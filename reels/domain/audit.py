"""The moderation log: who (a moderator or admin) or which automated check did what to which
reel or user, when and why. Every command that acts writes its entry in its own transaction, so
an action and its entry commit together; nothing in the API edits or deletes entries."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from reels.domain.models import AuditAction, ModerationLog, User

# The names automated actors log under, beside the checks of reels.moderation.
REPORTS_CHECK = "reports"
ENGAGEMENT_CHECK = "engagement_scoring"  # the job of reels.domain.integrity
COMMAND_LINE = "command_line"


def record(
    session: AsyncSession,
    action: AuditAction,
    reason: str,
    *,
    by: User | None = None,
    check: str | None = None,
    reel_id: int | None = None,
    user_id: int | None = None,
) -> None:
    """Add the entry to `session`'s transaction: `by` a person, or else by `check`."""
    assert (by is None) != (check is None), "an entry names a person or a check"
    session.add(
        ModerationLog(
            moderator_id=by.id if by is not None else None,
            check_name=check,
            action=action.value,
            reel_id=reel_id,
            user_id=user_id,
            reason=reason,
        )
    )
