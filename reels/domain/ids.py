"""Snowflake ids: 41-bit milliseconds since the project epoch, 10-bit region, 12-bit sequence.

Ids are time-ordered (sortable, usable as cursors) and unique across processes as long as each
region id is used by one generator at a time per millisecond... which a process-wide generator
plus distinct `REELS_REGION_ID` per deployment region gives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
REGION_BITS = 10
SEQUENCE_BITS = 12
MAX_REGION = (1 << REGION_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
TIMESTAMP_SHIFT = REGION_BITS + SEQUENCE_BITS


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class SnowflakeGenerator:
    """Thread-safe generator of strictly increasing ids for one region.

    A clock that steps back is never trusted: the generator keeps issuing from the last
    millisecond it used (borrowing sequence numbers, then waiting) until the clock catches up,
    so ids stay unique and increasing.
    """

    def __init__(self, region_id: int, clock: Callable[[], int] = _wall_clock_ms) -> None:
        if not 0 <= region_id <= MAX_REGION:
            raise ValueError(f"region id must be 0..{MAX_REGION}, got {region_id}")
        self.region_id = region_id
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
            return (now << TIMESTAMP_SHIFT) | (self.region_id << SEQUENCE_BITS) | self._sequence

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
    return (snowflake >> SEQUENCE_BITS) & MAX_REGION


_generator: SnowflakeGenerator | None = None
_generator_lock = threading.Lock()


def configure(region_id: int) -> None:
    """Set the process-wide generator's region (once, at start-up)."""
    global _generator
    with _generator_lock:
        if _generator is None or _generator.region_id != region_id:
            _generator = SnowflakeGenerator(region_id)


def new_id() -> int:
    """The next id from the process-wide generator (region 0 until `configure` is called)."""
    global _generator
    if _generator is None:
        configure(0)
    assert _generator is not None
    return _generator.next_id()
