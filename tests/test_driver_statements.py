"""A driver read answers what SQLAlchemy's own execution of the same statement answers (enums,
aware and naive datetimes, JSON, lists of ids), on SQLite and PostgreSQL; an entity read leaves
an instance as a closed session would; a write on PostgreSQL commits as it ends; every
connection goes back to the pool, and a lost one is replaced; a read replica whose connection was
lost, or which refuses connections, is skipped at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Integer, bindparam, func, insert, inspect, literal, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from reels.db import (
    Base,
    DriverStatement,
    EntityRead,
    InIds,
    ReadReplicas,
    create_engine,
    engine_of,
    read_engine,
    session_factory,
)
from reels.domain.models import Like, Reel, ReelCounts, ReelStatus, Role, User
from reels.settings import Settings
from tests.test_db_connections import kill_backend

MEDIA = {"hls": "reels/1/hls/master.m3u8", "renditions": [{"width": 720, "bandwidth": 3_000_000}], "fps": 29.97}


@pytest.fixture(params=["embedded", pytest.param("services", marks=pytest.mark.services)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"sqlite+aiosqlite:///{tmp_path / 'reels.db'}"
    return Settings(database_url=request.getfixturevalue("fresh_postgres_url")).resolved_database_url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(database_url)
    async with made.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield made
    finally:
        await made.dispose()


async def _world(engine: AsyncEngine) -> tuple[int, list[int]]:
    async with session_factory(engine).begin() as session:
        maker = User(username="maker", display_name="Maker", password_hash="-", role=Role.MODERATOR)
        maker.suspended_at = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
        session.add(maker)
        await session.flush()
        reels = [
            Reel(creator_id=maker.id, caption=f"reel {n}", status=status, media=MEDIA if n else None)
            for n, status in enumerate([ReelStatus.READY, ReelStatus.READY, ReelStatus.FAILED])
        ]
        session.add_all(reels)
        await session.flush()
        return maker.id, [reel.id for reel in reels]


async def test_a_driver_read_answers_as_sqlalchemy_does(engine: AsyncEngine) -> None:
    maker_id, reel_ids = await _world(engine)
    statement = (
        select(
            Reel.id, Reel.status, Reel.media, Reel.created_at, User.role, User.suspended_at, literal(7), func.count()
        )
        .join(User, User.id == Reel.creator_id)
        .where(InIds(Reel.id, "ids"), Reel.status == ReelStatus.READY, User.id == bindparam("maker"))
        .group_by(Reel.id, User.id)
        .order_by(Reel.id)
    )
    values = {"ids": [*reel_ids, 10**15], "maker": maker_id}
    async with engine.connect() as conn:
        expected = [tuple(row) for row in (await conn.execute(statement, values)).all()]

    rows = await DriverStatement(statement).rows(read_engine(engine), values)

    assert rows == expected
    assert [row[0] for row in rows] == reel_ids[:2]  # READY only, the unknown id left out
    assert rows[1][1:3] == (ReelStatus.READY, MEDIA) and isinstance(rows[1][4], Role)
    assert await DriverStatement(statement).rows(read_engine(engine), {"ids": [], "maker": maker_id}) == []


async def test_a_value_given_wins_over_the_statements_own_as_in_sqlalchemy(engine: AsyncEngine) -> None:
    statement = select(bindparam("n", value=3, type_=Integer))
    async with engine.connect() as conn:
        expected = [tuple((await conn.execute(statement, values)).one()) for values in ({}, {"n": 5})]
    read = DriverStatement(statement)
    assert [(await read.rows(read_engine(engine), values))[0] for values in ({}, {"n": 5})] == expected == [(3,), (5,)]


async def test_an_entity_read_leaves_the_instance_a_closed_session_would(engine: AsyncEngine) -> None:
    maker_id, _ = await _world(engine)
    account = EntityRead(select(User).where(User.id == bindparam("user_id")))
    async with session_factory(engine)() as session:
        expected = await session.get(User, maker_id)

    user = await account.one_or_none(read_engine(engine), {"user_id": maker_id})

    assert user is not None and expected is not None
    columns = [attribute.key for attribute in inspect(User).column_attrs]
    assert {key: getattr(user, key) for key in columns} == {key: getattr(expected, key) for key in columns}
    state = inspect(user)
    assert state.detached and state.identity == (maker_id,) and not state.modified
    assert await account.one_or_none(read_engine(engine), {"user_id": maker_id + 1}) is None


async def test_an_entity_read_makes_each_class_of_a_row_and_none_of_a_missing_outer_side(engine: AsyncEngine) -> None:
    maker_id, reel_ids = await _world(engine)
    statement = (
        select(Reel, User, literal(True).label("flag"), ReelCounts)
        .join(User, User.id == Reel.creator_id)
        .outerjoin(ReelCounts, ReelCounts.reel_id == Reel.id)
        .where(InIds(Reel.id, "ids"))
        .order_by(Reel.id)
    )

    rows = await EntityRead(statement).all(read_engine(engine), {"ids": reel_ids})

    assert [(reel.id, reel.media, user.id, flag, counts) for reel, user, flag, counts in rows] == [
        (reel_ids[0], None, maker_id, True, None),
        (reel_ids[1], MEDIA, maker_id, True, None),
        (reel_ids[2], MEDIA, maker_id, True, None),
    ]
    assert all(inspect(reel).detached and inspect(user).detached for reel, user, _, _ in rows)
    assert rows[0][1] is rows[2][1]  # one instance an identity, as in a session's identity map


async def test_an_entity_read_keys_a_composite_primary_key_as_a_session_does(engine: AsyncEngine) -> None:
    maker_id, reel_ids = await _world(engine)
    async with session_factory(engine).begin() as session:
        session.add_all([Like(user_id=maker_id, reel_id=reel_id) for reel_id in reel_ids[:2]])
    async with session_factory(engine)() as session:
        expected = [inspect(like).key for like in (await session.scalars(select(Like).order_by(Like.reel_id))).all()]

    rows = await EntityRead(select(Like).order_by(Like.reel_id)).all(read_engine(engine), {})

    assert [inspect(like).key for (like,) in rows] == expected
    assert [inspect(like).identity for (like,) in rows] == [(reel_id, maker_id) for reel_id in reel_ids[:2]]


@pytest.mark.services
async def test_a_write_on_postgresql_commits_as_it_ends(fresh_postgres_url: str) -> None:
    made = create_engine(Settings(database_url=fresh_postgres_url).resolved_database_url)
    try:
        async with made.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        maker_id, reel_ids = await _world(made)
        liked = insert(Like).values(reel_id=bindparam("reel_id"), user_id=bindparam("user_id"), created_at=func.now())
        write = DriverStatement(select(liked.returning(Like.reel_id).cte("liked").c.reel_id))
        assert await write.rows(made, {"reel_id": reel_ids[1], "user_id": maker_id}) == [(reel_ids[1],)]
        await made.dispose()  # whatever a connection left open ends with it
        async with session_factory(made)() as session:
            assert (await session.scalars(select(Like.reel_id))).all() == [reel_ids[1]]
    finally:
        await made.dispose()


async def test_python_side_column_defaults_are_refused() -> None:
    """SQLAlchemy's execution computes them (a like's `created_at`); a driver statement cannot."""
    liked = insert(Like).values(reel_id=bindparam("reel_id"), user_id=bindparam("user_id"))
    with pytest.raises(TypeError, match="column defaults"):
        await DriverStatement(select(liked.returning(Like.reel_id).cte("liked").c.reel_id)).rows(
            create_engine("sqlite+aiosqlite:///:memory:"), {"reel_id": 1, "user_id": 2}
        )


async def test_lists_must_be_bound_as_one_parameter() -> None:
    with pytest.raises(TypeError, match="InIds"):
        await DriverStatement(select(User.id).where(User.id.in_([1, 2]))).rows(
            create_engine("sqlite+aiosqlite:///:memory:"), {}
        )


BACKEND = DriverStatement(select(func.pg_backend_pid()))


async def test_every_connection_goes_back_to_the_pool(engine: AsyncEngine) -> None:
    """After rows, and after a statement the database refused (a driver statement checks its
    connection out of the pool itself, without SQLAlchemy's `Connection`)."""
    pool = engine.sync_engine.pool
    assert await DriverStatement(select(literal(1))).rows(engine, {}) == [(1,)]
    with pytest.raises(Exception, match="no such|does not exist"):
        await DriverStatement(select(text("* FROM no_such_table"))).rows(engine, {})
    assert pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool's


@pytest.mark.services
async def test_a_cancelled_statement_gives_its_connection_back(fresh_postgres_url: str) -> None:
    engine = read_engine(create_engine(Settings(database_url=fresh_postgres_url).resolved_database_url))
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await DriverStatement(select(func.pg_sleep(30))).rows(engine, {})
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert await DriverStatement(select(literal(1))).rows(engine, {}) == [(1,)]
    finally:
        await engine.dispose()


@pytest.mark.services
async def test_a_refused_statement_keeps_its_connection_and_a_lost_one_is_replaced(fresh_postgres_url: str) -> None:
    """The pool hands out its most recent connection again (LIFO), unless it was invalidated."""
    engine = read_engine(create_engine(Settings(database_url=fresh_postgres_url).resolved_database_url))
    try:
        (first,) = await BACKEND.rows(engine, {})
        with pytest.raises(Exception, match="division by zero"):
            await DriverStatement(select(text("1 / 0"))).rows(engine, {})
        assert await BACKEND.rows(engine, {}) == [first]  # the database refused the statement, no more

        await kill_backend(fresh_postgres_url, first[0])
        with pytest.raises(Exception, match="connection"):
            await BACKEND.rows(engine, {})
        assert await BACKEND.rows(engine, {}) != [first]  # the lost one was not handed out again
    finally:
        await engine.dispose()


@pytest.mark.services
async def test_a_replica_whose_connection_is_lost_during_a_read_is_skipped_at_once(fresh_postgres_url: str) -> None:
    """Not at the next check of the replicas (every second): the read that found it gone skips it."""
    url = Settings(database_url=fresh_postgres_url).resolved_database_url
    primary = session_factory(read_engine(create_engine(url)))
    replicas = ReadReplicas(primary, [url], max_lag_s=5, check_interval_s=3600)
    replicas._usable = list(replicas._factories)  # a server that is no replica never passes a check
    try:
        replica = engine_of(replicas.sessions())
        ((pid,),) = await BACKEND.rows(replica, {})
        await kill_backend(fresh_postgres_url, pid)
        with pytest.raises(Exception, match="connection"):
            await BACKEND.rows(replica, {})
        assert replicas.sessions() is primary
    finally:
        await replicas.close()
        await engine_of(primary).dispose()


@pytest.mark.services
async def test_a_replica_that_refuses_connections_is_skipped_at_once(fresh_postgres_url: str) -> None:
    """A check-out the server refuses is reported as SQLAlchemy reports it (a DBAPIError, with
    the engine's handle_error event), which ReadReplicas hear."""
    url = Settings(database_url=fresh_postgres_url).resolved_database_url
    primary = session_factory(read_engine(create_engine(url)))
    replicas = ReadReplicas(primary, [url.rsplit("/", 1)[0] + "/no_such_database"], max_lag_s=5, check_interval_s=3600)
    replicas._usable = list(replicas._factories)
    try:
        with pytest.raises(DBAPIError, match="no_such_database"):
            await BACKEND.rows(engine_of(replicas.sessions()), {})
        assert replicas.sessions() is primary
    finally:
        await replicas.close()
        await engine_of(primary).dispose()
