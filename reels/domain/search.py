"""Search and look-up by name: users, hashtags and sounds, by prefix (audio titles anywhere).

Search finds a hashtag or a sound only when one of its reels is listed to the viewer (the rule
of reels.domain.visibility, as its `reels` page applies it): a tag or sound used only on
private, followers-only, unfinished or blocked reels is not offered to anyone else.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain.models import Audio, Hashtag, Reel, ReelHashtag, User
from reels.domain.visibility import listed_to

QUERY_MAX = 100
HASHTAG_MAX = 100


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def normalize_hashtag(name: str) -> str:
    return name.strip().lstrip("#").lower()


def _hashtag_has_listed_reel(viewer: User | None) -> ColumnElement[bool]:
    return (
        select(ReelHashtag.reel_id)
        .join(Reel, Reel.id == ReelHashtag.reel_id)
        .where(ReelHashtag.hashtag_id == Hashtag.id, listed_to(viewer, follows_creator=False))
        .exists()
    )


def _audio_has_listed_reel(viewer: User | None) -> ColumnElement[bool]:
    return select(Reel.id).where(Reel.audio_id == Audio.id, listed_to(viewer, follows_creator=False)).exists()


async def hashtag_named(sessions: async_sessionmaker[AsyncSession], name: str) -> Hashtag | None:
    """The hashtag of that name (the client knows it): its counts and reels still follow the rule."""
    normalized = normalize_hashtag(name)
    if not normalized or len(normalized) > HASHTAG_MAX:
        return None
    async with sessions() as session:
        return await session.scalar(select(Hashtag).where(Hashtag.name == normalized))


async def users(sessions: async_sessionmaker[AsyncSession], query: str, first: int) -> list[User]:
    """Accounts not suspended whose username (an `@` aside) or display name starts with `query`."""
    text = query.strip().lower()[:QUERY_MAX]
    if not text:
        return []
    statement = (
        select(User)
        .where(
            or_(
                User.username.like(_like_prefix(text.lstrip("@")), escape="\\"),
                User.display_name.ilike(_like_prefix(text), escape="\\"),
            ),
            User.suspended_at.is_(None),
        )
        .order_by(User.username)
        .limit(first)
    )
    async with sessions() as session:
        return list((await session.scalars(statement)).all())


async def hashtags(
    sessions: async_sessionmaker[AsyncSession], query: str, first: int, viewer: User | None
) -> list[Hashtag]:
    """Hashtags starting with `query` (a `#` aside), the most used first."""
    text = normalize_hashtag(query)[:QUERY_MAX]
    if not text:
        return []
    statement = (
        select(Hashtag)
        .where(Hashtag.name.like(_like_prefix(text), escape="\\"), _hashtag_has_listed_reel(viewer))
        .order_by(Hashtag.reel_count.desc(), Hashtag.name)
        .limit(first)
    )
    async with sessions() as session:
        return list((await session.scalars(statement)).all())


async def audio(sessions: async_sessionmaker[AsyncSession], query: str, first: int, viewer: User | None) -> list[Audio]:
    """Sounds with `query` anywhere in the title, the most used first."""
    text = query.strip()[:QUERY_MAX]
    if not text:
        return []
    statement = (
        select(Audio)
        .where(Audio.title.ilike("%" + _like_prefix(text), escape="\\"), _audio_has_listed_reel(viewer))
        .order_by(Audio.use_count.desc(), Audio.id.desc())
        .limit(first)
    )
    async with sessions() as session:
        return list((await session.scalars(statement)).all())
