"""SQLite's writers of one process take turns on a lock, in order, instead of polling SQLite's
busy handler for its write lock (which served concurrent likes seconds late)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reels.db import create_engine, one_writer, session_factory


async def test_a_second_writer_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    sessions = session_factory(engine)
    order: list[str] = []
    first_in, second_trying = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with sessions() as session, one_writer(session):
            order.append("first in")
            first_in.set()
            await second_trying.wait()  # the second is now at the lock, without a lock inside already
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with sessions() as session:
            second_trying.set()
            async with one_writer(session):
                order.append("second in")

    try:
        async with asyncio.timeout(30):
            await asyncio.gather(first(), second())
    finally:
        await engine.dispose()
    assert order == ["first in", "first out", "second in"]


async def test_a_transaction_inside_a_writer_goes_on(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    sessions = session_factory(engine)
    try:
        async with asyncio.timeout(30), sessions() as outer, one_writer(outer), sessions() as inner:
            async with one_writer(inner):
                entered = True
    finally:
        await engine.dispose()
    assert entered
