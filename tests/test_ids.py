"""Snowflake ids: unique, strictly increasing, time-ordered, region-separated, clock-safe."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reels.domain.ids import EPOCH_MS, MAX_SEQUENCE, SnowflakeGenerator, region_of, timestamp_ms, worker_of
from reels.schema.globalid import db_id_of, from_global_id, to_global_id


@settings(max_examples=25, deadline=None)
@given(threads=st.integers(2, 6), per_thread=st.integers(50, 400), region=st.integers(0, 15), worker=st.integers(0, 63))
def test_unique_and_increasing_across_threads(threads: int, per_thread: int, region: int, worker: int) -> None:
    generator = SnowflakeGenerator(region, worker)
    results: list[list[int]] = [[] for _ in range(threads)]

    def work(out: list[int]) -> None:
        out.extend(generator.next_id() for _ in range(per_thread))

    running = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    every = [i for out in results for i in out]
    assert len(set(every)) == threads * per_thread
    assert all(out == sorted(out) and len(set(out)) == len(out) for out in results)
    assert {(region_of(i), worker_of(i)) for i in every} == {(region, worker)}


@settings(max_examples=25, deadline=None)
@given(
    nodes=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 63)), min_size=2, max_size=5, unique=True),
    count=st.integers(1, 300),
)
def test_generators_of_different_regions_or_workers_never_collide(nodes: list[tuple[int, int]], count: int) -> None:
    frozen = EPOCH_MS + 1_000  # every generator in the same millisecond: the worst case
    ids = [i for r, w in nodes for i in _many(SnowflakeGenerator(r, w, clock=lambda: frozen), count)]
    assert len(set(ids)) == len(ids) == len(nodes) * count
    assert {(region_of(i), worker_of(i)) for i in ids} == set(nodes)


def _many(generator: SnowflakeGenerator, count: int) -> list[int]:
    return [generator.next_id() for _ in range(count)]


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(st.integers(-5_000, 50), min_size=1, max_size=200))
def test_a_clock_that_steps_back_never_yields_a_duplicate_or_a_smaller_id(steps: list[int]) -> None:
    now = [EPOCH_MS + 10_000_000]

    def clock() -> int:
        return now[0]

    generator = SnowflakeGenerator(7, clock=clock)
    issued = []
    for step in steps:
        now[0] += step
        issued.append(generator.next_id())
    assert issued == sorted(issued) and len(set(issued)) == len(issued)


def test_sequence_overflow_moves_to_the_next_millisecond() -> None:
    ticks = iter([EPOCH_MS + 5] * (MAX_SEQUENCE + 2) + [EPOCH_MS + 6] * 10)
    generator = SnowflakeGenerator(1, clock=lambda: next(ticks))
    ids = [generator.next_id() for _ in range(MAX_SEQUENCE + 2)]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert timestamp_ms(ids[0]) == EPOCH_MS + 5 and timestamp_ms(ids[-1]) == EPOCH_MS + 6


@settings(max_examples=50, deadline=None)
@given(
    batches=st.lists(st.tuples(st.integers(0, 1000), st.integers(-2, 3)), min_size=1, max_size=4),
    start=st.integers(0, 2**30),
)
def test_next_ids_gives_what_as_many_next_id_calls_would(batches: list[tuple[int, int]], start: int) -> None:
    # Two generators on the same clock, stepping (back, too) between batches; at most 4,000 ids
    # in all, so no millisecond runs out of sequence numbers (the clock stands still meanwhile).
    now = [EPOCH_MS + start]
    batched, single = (SnowflakeGenerator(5, 9, clock=lambda: now[0]) for _ in range(2))
    for count, step in batches:
        now[0] += step
        assert batched.next_ids(count) == [single.next_id() for _ in range(count)]
    assert batched.next_id() == single.next_id()


def test_next_ids_moves_to_the_next_millisecond_when_the_sequence_runs_out() -> None:
    ticks = iter([EPOCH_MS + 5] * 3 + [EPOCH_MS + 6] * 10)
    generator = SnowflakeGenerator(1, 2, clock=lambda: next(ticks))
    first = generator.next_id()
    ids = generator.next_ids(2 * MAX_SEQUENCE)
    assert ids == sorted(set(ids)) and ids[0] > first and len(ids) == 2 * MAX_SEQUENCE
    assert [timestamp_ms(i) for i in (ids[0], ids[MAX_SEQUENCE - 1], ids[MAX_SEQUENCE], ids[-1])] == [
        EPOCH_MS + 5,
        EPOCH_MS + 5,
        EPOCH_MS + 6,
        EPOCH_MS + 6,
    ]
    assert {(region_of(i), worker_of(i)) for i in ids} == {(1, 2)}
    assert generator.next_id() > ids[-1]


@settings(max_examples=20, deadline=None)
@given(earlier=st.integers(0, 2**40), gap=st.integers(1, 10**6))
def test_ids_are_time_ordered(earlier: int, gap: int) -> None:
    first = SnowflakeGenerator(15, 63, clock=lambda: EPOCH_MS + earlier).next_id()
    second = SnowflakeGenerator(3, clock=lambda: EPOCH_MS + earlier + gap).next_id()
    assert first < second
    assert timestamp_ms(first) == EPOCH_MS + earlier


@given(db_id=st.integers(0, 2**63 - 1), kind=st.sampled_from(["User", "Reel", "Comment", "Hashtag", "Audio", "Report"]))
def test_global_ids_round_trip(db_id: int, kind: str) -> None:
    assert from_global_id(to_global_id(kind, db_id)) == (kind, db_id)
    assert db_id_of(to_global_id(kind, db_id), "Nope") is None


@given(garbage=st.text(max_size=80))
def test_malformed_global_ids_are_rejected_not_crashing(garbage: str) -> None:
    parsed = from_global_id(garbage)
    assert parsed is None or parsed[0] in {"User", "Reel", "Comment", "Hashtag", "Audio", "Report"}


@pytest.mark.services
async def test_processes_sharing_a_cache_lease_different_worker_slots(redis_url: str, embedded_settings) -> None:  # type: ignore[no-untyped-def]
    """Two processes of one region must not make the same id in the same millisecond."""
    from reels.domain import ids
    from reels.platform import IdSlot
    from reels.ports.kv import RedisKeyValue

    cache = RedisKeyValue.from_url(redis_url)
    slots = [IdSlot(cache, region_id=3) for _ in range(3)]
    try:
        leased = []
        for slot in slots:
            await slot.lease()
            leased.append(slot.key)
        assert len(set(leased)) == 3
        assert worker_of(ids.new_id()) == int(leased[-1].rsplit(":", 1)[1])  # the process generator uses it
        await slots[0].release()
        again = IdSlot(cache, region_id=3)
        await again.lease()
        assert again.key == leased[0]  # a released slot is reused
        slots.append(again)
    finally:
        for slot in slots:
            await slot.release()
        ids.configure(0, 0)
        await cache.close()
