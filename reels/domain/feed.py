"""The reel lists of the home screens, newest first: what `feed`, `trending` and
`followingFeed` read today. The ranker (its own issue) orders the candidates of
`latest_public` its own way; the candidates and the visibility rule stay here.

Each read returns up to `first + 1` READY reels (keyset pages: the extra row says a next page
exists) listed to the viewer by the rule in SQL (`listed_to`); the caller drops blocked
creators' reels with `is_listed` (reels.domain.visibility).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain.models import Reel, ReelStatus, User, Visibility
from reels.domain.visibility import listed_to
from reels.ports.graph import FollowGraph


async def latest_public(
    sessions: async_sessionmaker[AsyncSession],
    graph: FollowGraph,
    viewer: User | None,
    *,
    first: int,
    after: int | None,
) -> list[Reel]:
    """Public reels of anyone the viewer has not muted."""
    public = Reel.visibility == Visibility.PUBLIC
    return await _newest(sessions, graph, viewer, public, first=first, after=after, follows_creator=False)


async def following(
    sessions: async_sessionmaker[AsyncSession],
    graph: FollowGraph,
    viewer: User | None,
    *,
    first: int,
    after: int | None,
) -> list[Reel]:
    """Reels of the creators the viewer follows, followers-only ones included."""
    followees = await graph.followees(viewer.id) if viewer is not None else []
    followed = Reel.creator_id.in_(followees)
    return await _newest(sessions, graph, viewer, followed, first=first, after=after, follows_creator=True)


async def _newest(
    sessions: async_sessionmaker[AsyncSession],
    graph: FollowGraph,
    viewer: User | None,
    candidates: ColumnElement[bool],
    *,
    first: int,
    after: int | None,
    follows_creator: bool,
) -> list[Reel]:
    query = (
        select(Reel)
        .where(candidates, Reel.status == ReelStatus.READY, listed_to(viewer, follows_creator=follows_creator))
        .order_by(Reel.id.desc())
        .limit(first + 1)
    )
    if after is not None:
        query = query.where(Reel.id < after)
    if viewer is not None and (muted := await graph.muted_ids(viewer.id)):
        query = query.where(Reel.creator_id.not_in(muted))
    async with sessions() as session:
        return list((await session.scalars(query)).all())
