"""Who may see which reel: the one rule every read path applies."""

from __future__ import annotations

from reels.domain.models import Reel, ReelStatus, Role, User, Visibility


def can_see_reel(reel: Reel, viewer: User | None, *, viewer_follows_creator: bool, blocked_either_way: bool) -> bool:
    """READY reels for the public (per visibility); the creator sees their own in any status;
    moderators see everything not deleted (they review blocked and reported reels)."""
    if reel.deleted_at is not None:
        return False
    if viewer is not None and viewer.role in (Role.MODERATOR, Role.ADMIN):
        return True
    if viewer is not None and viewer.id == reel.creator_id:
        return True
    if reel.status != ReelStatus.READY or blocked_either_way:
        return False
    if reel.visibility == Visibility.PUBLIC:
        return True
    return reel.visibility == Visibility.FOLLOWERS and viewer_follows_creator
