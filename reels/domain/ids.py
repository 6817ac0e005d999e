"""Snowflake ids: 41-bit milliseconds since the project epoch, a 10-bit node, 12-bit sequence.

The node is where an id was made: a 4-bit region (`REELS_REGION_ID`, one per deployment
region) and a 6-bit worker slot that each process leases in the shared cache at start-up (see
`reels.platform`), as Twitter's Snowflake splits its 10 bits into datacenter and worker. So ids
are unique across every process of every region, and time-ordered (sortable, usable as cursors).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
REGION_BITS = 4
WORKER_BITS = 6
SEQUENCE_BITS = 12
MAX_REGION = (1 << REGION_BITS) - 1
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
WORKER_SHIFT = SEQUENCE_BITS
REGION_SHIFT = WORKER_BITS + SEQUENCE_BITS
TIMESTAMP_SHIFT = REGION_BITS + WORKER_BITS + SEQUENCE_BITS


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class SnowflakeGenerator:
    """Thread-safe generator of strictly increasing ids for one node (region, worker slot).

    A clock that steps back is never trusted: the generator keeps issuing from the last
    millisecond it used (borrowing sequence numbers, then waiting) until the clock catches up,
    so ids stay unique and increasing.
    """

    def __init__(self, region_id: int, worker_id: int = 0, clock: Callable[[], int] = _wall_clock_ms) -> None:
        if not 0 <= region_id <= MAX_REGION:
            raise ValueError(f"region id must be 0..{MAX_REGION}, got {region_id}")
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be 0..{MAX_WORKER}, got {worker_id}")
        self.region_id = region_id
        self.worker_id = worker_id
        self._node = (region_id << REGION_SHIFT) | (worker_id << WORKER_SHIFT)
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now = max(self._clock() - EPOCH_MS, self._last_ms)
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:
                    now = self._next_millisecond()
            else:
                self._sequence = 0
            self._last_ms = now
            return (now << TIMESTAMP_SHIFT) | self._node | self._sequence

    def next_ids(self, count: int) -> list[int]:
        """The ids `count` calls of `next_id` would give, taken a millisecond's sequence at a time
        under one lock: the aggregator numbers ten thousand watch rows a flush."""
        ids: list[int] = []
        with self._lock:
            while len(ids) < count:
                now = max(self._clock() - EPOCH_MS, self._last_ms)
                first = self._sequence + 1 if now == self._last_ms else 0
                if first > MAX_SEQUENCE:
                    now, first = self._next_millisecond(), 0
                taken = min(count - len(ids), MAX_SEQUENCE + 1 - first)
                base = (now << TIMESTAMP_SHIFT) | self._node
                ids.extend(range(base + first, base + first + taken))
                self._last_ms, self._sequence = now, first + taken - 1
        return ids

    def _next_millisecond(self) -> int:
        """The sequence of `_last_ms` is used up: wait for the clock to tick, or, when the
        clock is behind (it stepped back), move one logical millisecond ahead of it."""
        while True:
            now = self._clock() - EPOCH_MS
            if now > self._last_ms:
                return now
            if now < self._last_ms:
                return self._last_ms + 1
            time.sleep(0.0001)


def timestamp_ms(snowflake: int) -> int:
    """Unix milliseconds at which `snowflake` was generated."""
    return (snowflake >> TIMESTAMP_SHIFT) + EPOCH_MS


def region_of(snowflake: int) -> int:
    return (snowflake >> REGION_SHIFT) & MAX_REGION


def worker_of(snowflake: int) -> int:
    return (snowflake >> WORKER_SHIFT) & MAX_WORKER


_generator: SnowflakeGenerator | None = None
_generator_lock = threading.Lock()


def configure(region_id: int, worker_id: int = 0) -> None:
    """Set the process-wide generator's node (at start-up, and when a worker slot is re-leased)."""
    global _generator
    with _generator_lock:
        if _generator is None or (_generator.region_id, _generator.worker_id) != (region_id, worker_id):
            _generator = SnowflakeGenerator(region_id, worker_id)


def new_id() -> int:
    """The next id from the process-wide generator (region 0 until `configure` is called)."""
    global _generator
    if _generator is None:
        configure(0)
    assert _generator is not None
    return _generator.next_id()


def new_ids(count: int) -> list[int]:
    """`count` ids from the process-wide generator, as `count` calls of `new_id` would give."""
    global _generator
    if _generator is None:
        configure(0)
    assert _generator is not None
    return _generator.next_ids(count)


def first_id_at(unix_ms: int) -> int:
    """The smallest id made at or after `unix_ms`: a time range of rows is a range of their ids,
    which the primary key indexes."""
    return max(0, unix_ms - EPOCH_MS) << TIMESTAMP_SHIFT
