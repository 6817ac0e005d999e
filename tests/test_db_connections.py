"""Pooled PostgreSQL connections are pinged at check-out only after sitting idle: one that died
while idle is replaced unseen; one that dies within moments of its last use fails once, and the
pool recovers by itself. Read sessions run each statement as its own transaction. Sessions
beyond the pool's size wait for one of its connections."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from reels.db import create_engine, read_session_factory, session_factory
from reels.settings import Settings

BACKEND_PID = text("SELECT pg_backend_pid()")


async def kill_backend(server_url: str, pid: int) -> None:
    """Terminate the backend and wait until the server no longer lists it."""
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            await asyncio.sleep(0.01)  # polling the server for the state, not waiting for time
    finally:
        await admin.close()


def _engine(server_url: str, ping_idle_s: float):  # type: ignore[no-untyped-def]
    return create_engine(Settings(database_url=server_url).resolved_database_url, ping_idle_s=ping_idle_s)


async def test_a_connection_that_died_idle_is_replaced_at_check_out(postgres_server_url: str) -> None:
    engine = _engine(postgres_server_url, ping_idle_s=0)  # every check-out counts as after idling
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(BACKEND_PID)
        await kill_backend(postgres_server_url, first)
        async with engine.connect() as conn:
            second = await conn.scalar(BACKEND_PID)  # no error: the ping found it dead
        assert second != first
    finally:
        await engine.dispose()


async def test_a_connection_used_a_moment_ago_is_not_pinged_and_fails_once(postgres_server_url: str) -> None:
    engine = _engine(postgres_server_url, ping_idle_s=3600)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(BACKEND_PID)
        await kill_backend(postgres_server_url, first)
        with pytest.raises(DBAPIError) as failed:
            async with engine.connect() as conn:
                await conn.scalar(BACKEND_PID)
        assert failed.value.connection_invalidated
        async with engine.connect() as conn:
            assert await conn.scalar(BACKEND_PID) != first  # the pool swapped it
    finally:
        await engine.dispose()


TRANSACTION_ID = text("SELECT txid_current()")  # the same for two statements of one transaction


async def test_read_sessions_send_no_begin_and_share_the_pool(postgres_server_url: str) -> None:
    engine = _engine(postgres_server_url, ping_idle_s=3600)
    try:
        async with read_session_factory(engine)() as session:
            assert await session.scalar(TRANSACTION_ID) != await session.scalar(TRANSACTION_ID)
            reader = await session.scalar(BACKEND_PID)
        async with session_factory(engine)() as session:
            assert await session.scalar(TRANSACTION_ID) == await session.scalar(TRANSACTION_ID)  # in BEGIN
            assert await session.scalar(BACKEND_PID) == reader  # one pool: the same connection
    finally:
        await engine.dispose()


async def test_sessions_beyond_the_pool_wait_for_its_connections_and_none_is_opened_past_it(
    postgres_server_url: str,
) -> None:
    """An overflow connection, opened for one session and closed after it, cost a server process
    and the statements' preparation each time: busier than the pool, sessions queue instead."""
    pool_size = 3
    engine = create_engine(Settings(database_url=postgres_server_url).resolved_database_url, pool_size=pool_size)
    sessions = read_session_factory(engine)
    holding = 0
    pool_full = asyncio.Event()

    async def read_backend() -> int:
        nonlocal holding
        async with sessions() as session:
            pid: int = await session.scalar(BACKEND_PID)
            holding += 1
            if holding == pool_size:
                pool_full.set()
            await pool_full.wait()  # every session of the first round holds its connection until the pool is full
            return pid

    try:
        first = set(await asyncio.gather(*(read_backend() for _ in range(4 * pool_size))))
        assert len(first) == pool_size
        again = set(await asyncio.gather(*(read_backend() for _ in range(4 * pool_size))))
        assert again == first  # the pool kept them all: none closed and opened again
    finally:
        await engine.dispose()
