"""A crashed aggregator loses no event and counts none twice.

An aggregator is killed between reading a batch and committing it (and, separately, after
committing but before acknowledging); another aggregator takes over its partitions once the
lease runs out; the final counts equal the events sent. Runs on the in-process queue with
SQLite and on Redis Streams with PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from reels.domain import events
from reels.domain.events import Shared
from reels.domain.models import Reel as ReelRow
from reels.domain.models import ReelCounts, ReelStatus, User
from reels.platform import Platform
from reels.settings import Settings
from reels.workers.aggregator import Aggregator

LEASE_TTL_S = 1.0


@pytest.fixture
async def platform(engagement_settings: Settings) -> AsyncIterator[Platform]:
    started = await Platform.start(engagement_settings)
    yield started
    await started.close()


async def make_reels(platform: Platform, count: int) -> list[int]:
    async with platform.sessions() as session:
        creator = User(username=f"c{id(platform) % 10**8}_{count}", display_name="c", password_hash="x")
        session.add(creator)
        await session.flush()
        reels = [ReelRow(creator_id=creator.id, status=ReelStatus.READY) for _ in range(count)]
        session.add_all(reels)
        await session.commit()
    return [reel.id for reel in reels]


async def shares(platform: Platform, reel_ids: list[int]) -> dict[int, int]:
    async with platform.sessions() as session:
        rows = (
            await session.execute(select(ReelCounts.reel_id, ReelCounts.shares).where(ReelCounts.reel_id.in_(reel_ids)))
        ).all()
    return {reel_id: count for reel_id, count in rows}


async def send(platform: Platform, reel_ids: list[int], rounds: int) -> dict[int, int]:
    sent: dict[int, int] = dict.fromkeys(reel_ids, 0)
    for n in range(rounds):
        for reel_id in reel_ids[: 1 + n % len(reel_ids)]:  # uneven popularity
            await events.send(platform.queue, Shared(reel_id, user_id=1))
            sent[reel_id] += 1
    return sent


async def until_counts(platform: Platform, expected: dict[int, int], timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while await shares(platform, list(expected)) != expected:
            await asyncio.sleep(0.05)


def killed(aggregator: Aggregator) -> None:
    """A killed process releases nothing: its leases must run out."""

    async def nothing() -> None:
        return None

    aggregator.release = nothing  # type: ignore[method-assign]


async def crash_inside(aggregator: Aggregator, method: str, obj: Any | None = None) -> asyncio.Event:
    """Make `method` (of the aggregator, or `obj`) hang forever once reached: the test then
    kills the task there."""
    reached = asyncio.Event()
    target = obj if obj is not None else aggregator

    async def hang(*args: Any, **kwargs: Any) -> None:
        reached.set()
        await asyncio.Event().wait()

    setattr(target, method, hang)
    return reached


@pytest.mark.parametrize("crash_point", ["before_commit", "after_commit_before_ack"])
async def test_killed_aggregator_loses_nothing_and_double_counts_nothing(platform: Platform, crash_point: str) -> None:
    reel_ids = await make_reels(platform, 5)
    first = Aggregator(platform, name="doomed", lease_ttl_s=LEASE_TTL_S)
    killed(first)
    if crash_point == "before_commit":
        # Inside the transaction, after the counts upsert: the commit never comes.
        reached = await crash_inside(first, "_upsert_marks")
    else:
        original_queue = platform.queue

        class AckHangs:
            def __getattr__(self, name: str) -> Any:
                return getattr(original_queue, name)

        first.platform = _with_queue(platform, AckHangs())
        reached = await crash_inside(first, "ack_many", first.platform.queue)

    sent = await send(platform, reel_ids, rounds=40)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(reached.wait(), 15)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    more = await send(platform, reel_ids, rounds=15)
    expected = {reel_id: sent[reel_id] + more[reel_id] for reel_id in reel_ids}
    second = Aggregator(platform, name="survivor", lease_ttl_s=LEASE_TTL_S)
    survivor = asyncio.create_task(second.run())
    try:
        await until_counts(platform, expected)
        await asyncio.sleep(3 * platform.settings.flush_interval_ms / 1000)  # nothing more arrives later
        assert await shares(platform, reel_ids) == expected
    finally:
        survivor.cancel()
        await asyncio.gather(survivor, return_exceptions=True)


def _with_queue(platform: Platform, queue: Any) -> Platform:
    from dataclasses import replace

    return replace(platform, queue=queue)


async def test_counts_keep_flowing_when_the_cache_forgot_the_epochs(platform: Platform) -> None:
    """A Redis without persistence restarts: lease epochs start over below those on the marks.
    The aggregator that still holds the lease moves past them instead of stalling."""
    from sqlalchemy import update

    from reels.domain.models import AggregatorOffset

    reel_ids = await make_reels(platform, 3)
    aggregator = Aggregator(platform, name="steady", lease_ttl_s=LEASE_TTL_S)
    task = asyncio.create_task(aggregator.run())
    try:
        sent = await send(platform, reel_ids, rounds=6)
        await until_counts(platform, sent)
        async with platform.sessions() as session:
            await session.execute(update(AggregatorOffset).values(epoch=AggregatorOffset.epoch + 10))
            await session.commit()
        more = await send(platform, reel_ids, rounds=6)
        await until_counts(platform, {reel_id: sent[reel_id] + more[reel_id] for reel_id in reel_ids})
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_queue_outage_does_not_end_the_aggregator(platform: Platform) -> None:
    real_queue = platform.queue
    failures = {"left": 2}

    class FlakyQueue:
        """Fails the first reads, as a Redis that went away for a moment."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real_queue, name)

        async def consume(self, *args: Any, **kwargs: Any) -> Any:
            if failures["left"]:
                failures["left"] -= 1
                raise ConnectionError("Redis went away")
            return await real_queue.consume(*args, **kwargs)

    reel_ids = await make_reels(platform, 2)
    aggregator = Aggregator(_with_queue(platform, FlakyQueue()), name="sturdy", lease_ttl_s=LEASE_TTL_S)
    task = asyncio.create_task(aggregator.run())
    try:
        await until_counts(platform, await send(platform, reel_ids, rounds=4))
        assert failures["left"] == 0 and not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_leases_are_renewed_while_a_flush_is_slow(platform: Platform) -> None:
    """A flush slower than the lease (a database under load) must not let the partitions go:
    the leases are renewed while the loop waits for it, and its events are then applied."""
    reel_ids = await make_reels(platform, 2)
    aggregator = Aggregator(platform, name="patient", lease_ttl_s=LEASE_TTL_S)
    flush, maintain_leases = aggregator.flush, aggregator.maintain_leases
    flushing, finish = asyncio.Event(), asyncio.Event()
    renewals_during_flush = 0

    async def slow_flush(batch: list[Any]) -> list[Any]:
        flushing.set()
        await finish.wait()
        return await flush(batch)

    async def counted_maintain_leases() -> list[int]:
        nonlocal renewals_during_flush
        renewals_during_flush += flushing.is_set() and not finish.is_set()
        return await maintain_leases()

    aggregator.flush = slow_flush  # type: ignore[method-assign]
    aggregator.maintain_leases = counted_maintain_leases  # type: ignore[method-assign]
    task = asyncio.create_task(aggregator.run())
    try:
        sent = await send(platform, reel_ids, rounds=4)
        async with asyncio.timeout(30):  # renewed every third of the lease: 4 renewals outlast it
            while renewals_during_flush < 4:
                await asyncio.sleep(0.05)
        assert sorted(aggregator.owned) == list(range(aggregator.partitions))
        leases = [await platform.kv.get(f"lease:aggregator:{p}") for p in range(aggregator.partitions)]
        assert leases == ["patient"] * aggregator.partitions
        finish.set()
        await until_counts(platform, sent)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
