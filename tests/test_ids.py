"""Snowflake ids: unique, strictly increasing, time-ordered, region-separated, clock-safe."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from reels.domain.ids import EPOCH_MS, MAX_SEQUENCE, SnowflakeGenerator, region_of, timestamp_ms
from reels.schema.globalid import db_id_of, from_global_id, to_global_id


@settings(max_examples=25, deadline=None)
@given(threads=st.integers(2, 6), per_thread=st.integers(50, 400), region=st.integers(0, 1023))
def test_unique_and_increasing_across_threads(threads: int, per_thread: int, region: int) -> None:
    generator = SnowflakeGenerator(region)
    results: list[list[int]] = [[] for _ in range(threads)]

    def work(out: list[int]) -> None:
        out.extend(generator.next_id() for _ in range(per_thread))

    workers = [threading.Thread(target=work, args=(out,)) for out in results]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    every = [i for out in results for i in out]
    assert len(set(every)) == threads * per_thread
    assert all(out == sorted(out) and len(set(out)) == len(out) for out in results)
    assert {region_of(i) for i in every} == {region}


@settings(max_examples=25, deadline=None)
@given(regions=st.lists(st.integers(0, 1023), min_size=2, max_size=5, unique=True), count=st.integers(1, 300))
def test_generators_with_different_regions_never_collide(regions: list[int], count: int) -> None:
    frozen = EPOCH_MS + 1_000  # every generator in the same millisecond: the worst case
    ids = [i for r in regions for i in _many(SnowflakeGenerator(r, clock=lambda: frozen), count)]
    assert len(set(ids)) == len(ids) == len(regions) * count
    assert {region_of(i) for i in ids} == set(regions)


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


@settings(max_examples=20, deadline=None)
@given(earlier=st.integers(0, 2**40), gap=st.integers(1, 10**6))
def test_ids_are_time_ordered(earlier: int, gap: int) -> None:
    first = SnowflakeGenerator(900, clock=lambda: EPOCH_MS + earlier).next_id()
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
