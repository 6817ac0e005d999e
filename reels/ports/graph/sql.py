"""The follow graph in the relational store (SQLite or PostgreSQL): the embedded default.

Timestamps are written at millisecond precision so that (created_at, user id) keyset cursors,
which carry milliseconds, compare exactly. On PostgreSQL, `follow` and `block` lock the two
users' rows first (follow: FOR KEY SHARE, which its foreign-key check takes anyway; block:
FOR UPDATE), so a follow racing a block either lands before it and is removed, or sees it and
is refused. SQLite runs one writer at a time and each of these transactions writes first.

The three tables live here, with the only code that reads or writes them; they share the
relational store's declarative base (so migrations see them) and refer to `users` by name only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    CursorResult,
    DateTime,
    ForeignKey,
    String,
    and_,
    bindparam,
    column,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute, Mapped, aliased, mapped_column

from reels import db
from reels.db import InIds
from reels.ports.graph.base import (
    BLOCKS,
    FOLLOWS,
    MUTES,
    Cursor,
    Edge,
    FollowResult,
    Page,
    Relations,
    Suggestion,
    check_not_self,
    check_page_size,
    now_ms,
    page_of,
    relations_of,
)

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The accounts the edges join; only their ids matter here (to lock a pair of users).
_USERS = table("users", column("id", BigInteger))


def _user_id(*, index: bool = False) -> Mapped[int]:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=index)


class Follow(db.Base):
    __tablename__ = "follows"

    follower_id: Mapped[int] = _user_id()
    followee_id: Mapped[int] = _user_id(index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Block(db.Base):
    __tablename__ = "blocks"

    blocker_id: Mapped[int] = _user_id()
    blocked_id: Mapped[int] = _user_id(index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Mute(db.Base):
    __tablename__ = "mutes"

    muter_id: Mapped[int] = _user_id()
    muted_id: Mapped[int] = _user_id()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


def _relations_statement() -> CompoundSelect[str, int]:
    """(kind, user id) of each of `others` that `user` follows, mutes, blocks or is blocked by."""
    follows, mutes, blocks = Follow.__table__.c, Mute.__table__.c, Block.__table__.c
    user = bindparam("user", type_=BigInteger)

    def kind(name: str) -> ColumnElement[str]:
        return literal_column(f"'{name}'", String).label("kind")

    others = "others"
    return union_all(
        select(kind(FOLLOWS), follows.followee_id).where(
            follows.follower_id == user, InIds(follows.followee_id, others)
        ),
        select(kind(MUTES), mutes.muted_id).where(mutes.muter_id == user, InIds(mutes.muted_id, others)),
        select(kind(BLOCKS), blocks.blocked_id).where(blocks.blocker_id == user, InIds(blocks.blocked_id, others)),
        select(kind(BLOCKS), blocks.blocker_id).where(blocks.blocked_id == user, InIds(blocks.blocker_id, others)),
    )


def _follow_counts_statement() -> CompoundSelect[int, int, int]:
    """(user id, 0, followers) and (user id, 1, followees) of each of `users` with any."""
    followers = (
        select(Follow.followee_id.label("user_id"), literal(0).label("side"), func.count().label("n"))
        .where(InIds(Follow.followee_id, "users"))
        .group_by(Follow.followee_id)
    )
    following = (
        select(Follow.follower_id.label("user_id"), literal(1).label("side"), func.count().label("n"))
        .where(InIds(Follow.follower_id, "users"))
        .group_by(Follow.follower_id)
    )
    return followers.union_all(following)


# Built once, with bound parameters, and run on the driver: a page of reels asks for the first,
# a profile for the second.
_RELATIONS = db.DriverStatement(_relations_statement())
_FOLLOW_COUNTS = db.DriverStatement(_follow_counts_statement())


def _datetime(ms: int) -> datetime:
    return _UNIX_EPOCH + timedelta(milliseconds=ms)


def _ms(value: datetime) -> int:
    # SQLite hands back naive datetimes; they were written in UTC.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _UNIX_EPOCH) // timedelta(milliseconds=1)


def _blocked_between(a: int, b: int | ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:
    return or_(
        and_(Block.blocker_id == a, Block.blocked_id == b),
        and_(Block.blocker_id == b, Block.blocked_id == a),
    )


async def _lock_users(session: AsyncSession, users: Sequence[int], *, exclusive: bool) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    rows = select(_USERS.c.id).where(_USERS.c.id.in_(users)).order_by(_USERS.c.id)  # one lock order: no deadlocks
    await session.execute(rows.with_for_update() if exclusive else rows.with_for_update(read=True, key_share=True))


class SqlFollowGraph:
    """The graph in the database's tables: writes through `session_factory`, reads on
    connections of `reads` (a `reels.db.read_engine`, without a transaction around each)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], reads: AsyncEngine) -> None:
        self._sessions = session_factory
        self._reads = reads

    async def follow(self, follower: int, followee: int) -> FollowResult:
        if follower == followee:
            return FollowResult.SELF
        async with self._sessions.begin() as session:
            await _lock_users(session, (follower, followee), exclusive=False)
            row = select(
                literal(follower, BigInteger),
                literal(followee, BigInteger),
                literal(_datetime(now_ms()), DateTime(timezone=True)),
            ).where(~exists().where(_blocked_between(follower, followee)))
            inserted = await session.execute(
                db.insert(session, Follow)
                .from_select([Follow.follower_id, Follow.followee_id, Follow.created_at], row)
                .on_conflict_do_nothing()
            )
            if cast(CursorResult[Any], inserted).rowcount == 1:  # DML gives a CursorResult
                return FollowResult.CREATED
            blocked = await session.scalar(select(exists().where(_blocked_between(follower, followee))))
            return FollowResult.BLOCKED if blocked else FollowResult.ALREADY

    async def unfollow(self, follower: int, followee: int) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Follow).where(Follow.follower_id == follower, Follow.followee_id == followee)
            )
            return cast(CursorResult[Any], result).rowcount > 0

    async def followers(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        return await self._page(Follow.followee_id, Follow.follower_id, Follow.created_at, user, first, after)

    async def following(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        return await self._page(Follow.follower_id, Follow.followee_id, Follow.created_at, user, first, after)

    async def _page(
        self,
        this_side: InstrumentedAttribute[int],
        other_side: InstrumentedAttribute[int],
        created_at: InstrumentedAttribute[datetime],
        user: int,
        first: int,
        after: Cursor | None,
    ) -> Page:
        check_page_size(first)
        query = select(other_side, created_at).where(this_side == user)
        if after is not None:
            query = query.where(tuple_(created_at, other_side) < tuple_(_datetime(after[0]), after[1]))
        query = query.order_by(created_at.desc(), other_side.desc()).limit(first + 1)
        async with self._reads.connect() as connection:
            rows = (await connection.execute(query)).all()
        return page_of([Edge(user_id, _ms(at)) for user_id, at in rows], first)

    async def follow_counts(self, users: Sequence[int]) -> dict[int, tuple[int, int]]:
        if not users:
            return {}
        rows = await _FOLLOW_COUNTS.rows(self._reads, {"users": list(users)})
        counts = {user: [0, 0] for user in users}
        for user, side, n in rows:
            counts[user][side] = n
        return {user: (n_followers, n_following) for user, (n_followers, n_following) in counts.items()}

    async def which_followed(self, follower: int, candidates: Sequence[int]) -> set[int]:
        if not candidates:
            return set()
        query = select(Follow.followee_id).where(Follow.follower_id == follower, Follow.followee_id.in_(candidates))
        async with self._reads.connect() as connection:
            return set((await connection.scalars(query)).all())

    async def followers_among(self, followee: int, candidates: Sequence[int]) -> set[int]:
        if not candidates:
            return set()
        query = select(Follow.follower_id).where(Follow.followee_id == followee, Follow.follower_id.in_(candidates))
        async with self._reads.connect() as connection:
            return set((await connection.scalars(query)).all())

    async def relations(self, user: int, others: Sequence[int]) -> Relations:
        if not others:
            return relations_of(())
        return relations_of(await _RELATIONS.rows(self._reads, {"user": user, "others": list(others)}))

    async def followees(self, user: int, *, limit: int = 5000) -> list[int]:
        query = (
            select(Follow.followee_id)
            .where(Follow.follower_id == user)
            .order_by(Follow.created_at.desc(), Follow.followee_id.desc())
            .limit(limit)
        )
        async with self._reads.connect() as connection:
            return list((await connection.scalars(query)).all())

    async def block(self, blocker: int, blocked: int) -> None:
        check_not_self(blocker, blocked, "block")
        async with self._sessions.begin() as session:
            await _lock_users(session, (blocker, blocked), exclusive=True)
            await session.execute(
                db.insert(session, Block)
                .values(blocker_id=blocker, blocked_id=blocked, created_at=_datetime(now_ms()))
                .on_conflict_do_nothing()
            )
            await session.execute(
                delete(Follow).where(
                    or_(
                        and_(Follow.follower_id == blocker, Follow.followee_id == blocked),
                        and_(Follow.follower_id == blocked, Follow.followee_id == blocker),
                    )
                )
            )

    async def blocked_either_way(self, user: int, others: Sequence[int]) -> set[int]:
        if not others:
            return set()
        query = (
            select(Block.blocked_id)
            .where(Block.blocker_id == user, Block.blocked_id.in_(others))
            .union(select(Block.blocker_id).where(Block.blocked_id == user, Block.blocker_id.in_(others)))
        )
        async with self._reads.connect() as connection:
            return set((await connection.scalars(query)).all())

    async def mute(self, muter: int, muted: int) -> None:
        check_not_self(muter, muted, "mute")
        async with self._sessions.begin() as session:
            await session.execute(
                db.insert(session, Mute)
                .values(muter_id=muter, muted_id=muted, created_at=_datetime(now_ms()))
                .on_conflict_do_nothing()
            )

    async def unblock(self, blocker: int, blocked: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(Block).where(Block.blocker_id == blocker, Block.blocked_id == blocked))

    async def blocked(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        return await self._page(Block.blocker_id, Block.blocked_id, Block.created_at, user, first, after)

    async def blocked_ids(self, blocker: int) -> set[int]:
        async with self._reads.connect() as connection:
            return set((await connection.scalars(select(Block.blocked_id).where(Block.blocker_id == blocker))).all())

    async def unmute(self, muter: int, muted: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(Mute).where(Mute.muter_id == muter, Mute.muted_id == muted))

    async def muted(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        return await self._page(Mute.muter_id, Mute.muted_id, Mute.created_at, user, first, after)

    async def muted_ids(self, muter: int) -> set[int]:
        async with self._reads.connect() as connection:
            return set((await connection.scalars(select(Mute.muted_id).where(Mute.muter_id == muter))).all())

    async def suggestions(self, user: int, *, limit: int = 20) -> list[Suggestion]:
        first_hop, second_hop, already = aliased(Follow), aliased(Follow), aliased(Follow)
        candidate = second_hop.followee_id
        paths = func.count().label("paths")
        query = (
            select(candidate, paths)
            .join(first_hop, first_hop.followee_id == second_hop.follower_id)
            .where(
                first_hop.follower_id == user,
                candidate != user,
                ~exists().where(already.follower_id == user, already.followee_id == candidate),
                ~exists().where(_blocked_between(user, candidate)),
            )
            .group_by(candidate)
            .order_by(paths.desc(), candidate)
            .limit(limit)
        )
        async with self._reads.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [Suggestion(user_id, n) for user_id, n in rows]

    async def ping(self) -> None:
        async with self._reads.connect() as connection:
            await connection.execute(select(literal(1)))

    async def close(self) -> None:
        """Nothing to release: the engine belongs to whoever made the session factory."""
