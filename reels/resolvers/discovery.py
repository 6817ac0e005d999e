"""Discovery reads: hashtags, search, and the reel lists of the home screens.

Until the ranker lands (its own issue), `feed` and `trending` order public READY reels by
recency; `followingFeed` is the real thing: followed creators, newest first.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from strawberry.types import Info

from reels.domain.models import Audio as AudioRow
from reels.domain.models import Hashtag as HashtagRow
from reels.domain.models import Reel as ReelRow
from reels.domain.models import ReelStatus, Visibility
from reels.domain.models import User as UserRow
from reels.resolvers.connections import after_id
from reels.resolvers.reels import without_blocked_creators
from reels.schema.context import Context
from reels.schema.types import Audio, Hashtag, ReelConnection, User

SEARCH_QUERY_MAX = 100


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


async def hashtag(info: Info[Context, None], name: str) -> Hashtag | None:
    normalized = name.strip().lstrip("#").lower()
    if not normalized or len(normalized) > 100:
        return None
    async with info.context.platform.sessions() as session:
        row = await session.scalar(select(HashtagRow).where(HashtagRow.name == normalized))
    return Hashtag.from_row(row) if row else None


async def search_users(info: Info[Context, None], query: str, first: int) -> list[User]:
    text = query.strip().lower()[:SEARCH_QUERY_MAX]
    if not text:
        return []
    async with info.context.platform.sessions() as session:
        rows = (
            await session.scalars(
                select(UserRow)
                .where(
                    or_(
                        UserRow.username.like(_like_prefix(text.lstrip("@")), escape="\\"),
                        UserRow.display_name.ilike(_like_prefix(text), escape="\\"),
                    ),
                    UserRow.suspended_at.is_(None),
                )
                .order_by(UserRow.username)
                .limit(first)
            )
        ).all()
    hidden = await info.context.loaders.viewer_blocked_either_way.load_many([row.id for row in rows])
    return [User.from_row(row) for row, blocked in zip(rows, hidden, strict=True) if not blocked]


async def search_hashtags(info: Info[Context, None], query: str, first: int) -> list[Hashtag]:
    text = query.strip().lstrip("#").lower()[:SEARCH_QUERY_MAX]
    if not text:
        return []
    async with info.context.platform.sessions() as session:
        rows = (
            await session.scalars(
                select(HashtagRow)
                .where(HashtagRow.name.like(_like_prefix(text), escape="\\"))
                .order_by(HashtagRow.reel_count.desc(), HashtagRow.name)
                .limit(first)
            )
        ).all()
    return [Hashtag.from_row(row) for row in rows]


async def search_audio(info: Info[Context, None], query: str, first: int) -> list[Audio]:
    text = query.strip()[:SEARCH_QUERY_MAX]
    if not text:
        return []
    async with info.context.platform.sessions() as session:
        rows = (
            await session.scalars(
                select(AudioRow)
                .where(AudioRow.title.ilike("%" + _like_prefix(text), escape="\\"))
                .order_by(AudioRow.use_count.desc(), AudioRow.id.desc())
                .limit(first)
            )
        ).all()
    return [Audio.from_row(row) for row in rows]


async def recent_public_reels(
    info: Info[Context, None], first: int, after: str | None, creator_ids: list[int] | None = None
) -> ReelConnection:
    query = (
        select(ReelRow)
        .where(ReelRow.status == ReelStatus.READY, ReelRow.deleted_at.is_(None))
        .order_by(ReelRow.id.desc())
        .limit(first + 1)
    )
    if creator_ids is None:
        query = query.where(ReelRow.visibility == Visibility.PUBLIC)
    else:  # the viewer follows these creators, so followers-only reels are theirs to see
        query = query.where(
            ReelRow.creator_id.in_(creator_ids), ReelRow.visibility.in_([Visibility.PUBLIC, Visibility.FOLLOWERS])
        )
    if (position := after_id(after)) is not None:
        query = query.where(ReelRow.id < position)
    viewer = info.context.viewer
    if viewer is not None:
        muted = await info.context.platform.graph.muted_ids(viewer.id)
        if muted:
            query = query.where(ReelRow.creator_id.not_in(muted))
    async with info.context.platform.sessions() as session:
        rows = list((await session.scalars(query)).all())
    return await without_blocked_creators(info, rows, first)


async def following_feed(info: Info[Context, None], first: int, after: str | None) -> ReelConnection:
    viewer = info.context.viewer
    followees = await info.context.platform.graph.followees(viewer.id) if viewer else []
    return await recent_public_reels(info, first, after, creator_ids=followees)
