"""Who may see which reel: the one rule every read path applies, in forms that say the same.

A reel is **listed** to a viewer (shown in feeds, a creator's, hashtag's or sound's reels, and
to the followers it is fanned out to) when it is not deleted, its creator is not suspended
(a suspended account's reels are hidden until the suspension is lifted), and

- the viewer is its creator (any status), or
- it is READY (not HELD, BLOCKED or still processing), neither has blocked the other, and it
  is PUBLIC, or FOLLOWERS and the viewer follows the creator.

A viewer **can see** a reel (open it by id, follow its counts and status) when it is listed to
them, or when they are a moderator or admin and it is not deleted: they review blocked,
held and reported reels, which lists keep out of everyone's way, theirs included.

Side by side:

| form | listed | can see |
|---|---|---|
| Python, one loaded reel | `is_listed` | `can_see_reel` |
| SQL condition on `reels` | `listed_to` | (single reels are loaded, then checked) |

Follows and blocks live in the follow graph, which SQL cannot join (it may be another store):
`listed_to` takes whether the viewer follows the creator as a condition or a constant, and
leaves blocks out; a list then passes each row it found through `is_listed`, blocks included,
so a list never shows a reel that the reel's own page would refuse.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, bindparam, false, or_, select, true

from reels.domain.models import Reel, ReelStatus, Role, User, Visibility

REVIEWERS = (Role.MODERATOR, Role.ADMIN)


def is_listed(
    reel: Reel,
    viewer: User | None,
    *,
    viewer_follows_creator: bool,
    blocked_either_way: bool,
    creator_suspended: bool,
) -> bool:
    """Whether lists and feeds show the reel to the viewer."""
    if reel.deleted_at is not None or creator_suspended:
        return False
    if viewer is not None and viewer.id == reel.creator_id:
        return True
    if reel.status != ReelStatus.READY or blocked_either_way:
        return False
    if reel.visibility == Visibility.PUBLIC:
        return True
    return reel.visibility == Visibility.FOLLOWERS and viewer_follows_creator


def listed_to(viewer: User | None, *, follows_creator: ColumnElement[bool] | bool) -> ColumnElement[bool]:
    """`is_listed` as a SQL condition on `reels`, blocks aside (see the module docstring).

    `follows_creator` holds where the viewer follows the reel's creator: e.g.
    `Reel.creator_id.in_(followees)`, or a constant when the caller knows it for every row."""
    return _listed(Reel.creator_id == viewer.id if viewer is not None else false(), follows_creator)


def listed_to_bound_viewer(*, follows_creator: ColumnElement[bool] | bool) -> ColumnElement[bool]:
    """`listed_to` for the viewer whose id is the bound parameter `viewer_id`: for a statement
    built once and run for every viewer."""
    return _listed(Reel.creator_id == bindparam("viewer_id"), follows_creator)


def _listed(own: ColumnElement[bool], follows_creator: ColumnElement[bool] | bool) -> ColumnElement[bool]:
    if isinstance(follows_creator, bool):
        follows_creator = true() if follows_creator else false()
    audience = or_(Reel.visibility == Visibility.PUBLIC, and_(Reel.visibility == Visibility.FOLLOWERS, follows_creator))
    suspended = select(User.id).where(User.suspended_at.is_not(None))
    return and_(
        Reel.deleted_at.is_(None),
        Reel.creator_id.not_in(suspended),
        or_(own, and_(Reel.status == ReelStatus.READY, audience)),
    )


def can_see_reel(
    reel: Reel,
    viewer: User | None,
    *,
    viewer_follows_creator: bool,
    blocked_either_way: bool,
    creator_suspended: bool,
) -> bool:
    """Whether the viewer may open the reel: listed to them, or theirs to review."""
    if viewer is not None and viewer.role in REVIEWERS and reel.deleted_at is None:
        return True
    return is_listed(
        reel,
        viewer,
        viewer_follows_creator=viewer_follows_creator,
        blocked_either_way=blocked_either_way,
        creator_suspended=creator_suspended,
    )


def creator_suspended(creator: User | None) -> bool:
    """The `creator_suspended` of a reel whose creator row is `creator` (a missing row, an
    account gone, hides its reels as a suspension does)."""
    return creator is None or creator.suspended_at is not None


def listed_to_followers(reel: Reel, *, creator_suspended: bool) -> bool:
    """Whether the creator's followers are shown the reel (no block stands between a creator
    and a follower: a block ends the follow)."""
    return is_listed(
        reel, None, viewer_follows_creator=True, blocked_either_way=False, creator_suspended=creator_suspended
    )
