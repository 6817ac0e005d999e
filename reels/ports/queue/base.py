"""The work-queue port's interface and the rules both adapters share."""

from __future__ import annotations

import zlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

# Consumers drain lanes in this order: all `high` work before any `normal`, then `bulk`.
LANES = ("high", "normal", "bulk")
DEFAULT_PARTITIONS = 8


class Message(NamedTuple):
    """One delivery of a job to `consumer`.

    `id` is "<ms>-<seq>" and grows within one (topic, partition, lane) stream; compare
    `position`, not the strings, and keep high-water marks per (partition, lane): lanes are
    separate streams served out of id order. `attempts` counts deliveries, this one included.

    A named tuple, immutable and built several times faster than a frozen dataclass: the
    aggregator receives tens of thousands a second.
    """

    topic: str
    partition: int
    lane: str
    id: str
    payload: dict[str, Any]
    attempts: int
    consumer: str

    @property
    def position(self) -> tuple[int, int]:
        millis, seq = self.id.split("-")
        return int(millis), int(seq)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    topic: str
    partition: int
    lane: str
    payload: dict[str, Any]
    error: str
    attempts: int
    failed_at: datetime


class WorkQueue(Protocol):
    """At-least-once jobs: topics split into partitions by key, consumer groups, retries with
    backoff, dead letters and priority lanes.

    Every group gets every message published after its first `consume` (older ones too while
    the queue still keeps them: until every existing group has had them, acked in Redis);
    within a group each message goes to one consumer at a time.
    A message is redelivered when its consumer neither acks nor retries it within
    `claim_idle_ms` (a crashed worker), so handlers must be idempotent. Per-key order holds
    within a lane for a consumer that owns the key's partition (pass `partitions=`); consumers
    sharing partitions process them concurrently.
    """

    async def publish(self, topic: str, payload: dict[str, Any], *, key: str, lane: str = "normal") -> str:
        """Append a job (JSON-serialisable payload) to the partition of `key`; returns its id."""
        ...

    async def consume(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        count: int = 16,
        block_ms: int = 1000,
        partitions: Collection[int] | None = None,
        claim_idle_ms: int = 60_000,
    ) -> list[Message]:
        """Up to `count` messages: first retries whose backoff is over, then messages other
        consumers left idle for `claim_idle_ms`, then new ones, high lane first. Waits up to
        `block_ms` when there is nothing; [] when still nothing."""
        ...

    async def ack(self, message: Message, group: str) -> None: ...

    async def ack_many(self, messages: Collection[Message], group: str) -> None:
        """`ack` each, in one round trip: for consumers that settle a whole batch at once."""
        ...

    async def touch(self, message: Message, group: str) -> bool:
        """Reset the message's idle time so no one claims it while a long job runs (call it
        well within `claim_idle_ms`); False when another consumer has claimed it already."""
        ...

    async def retry_or_dead_letter(self, message: Message, group: str, error: str, *, max_attempts: int = 3) -> bool:
        """After a failed attempt: True = redelivered after an exponential backoff; False = that
        was attempt `max_attempts`, it is now a dead letter (and acked). A message another
        consumer has claimed meanwhile is left to that consumer (True)."""
        ...

    async def dead_letters(self, topic: str, *, limit: int = 100) -> list[DeadLetter]:
        """Newest first."""
        ...

    async def requeue_dead_letter(self, topic: str, dead_letter_id: str) -> bool:
        """Publish it again (same partition and lane, attempts start over); False if unknown."""
        ...

    async def depth(self, topic: str, group: str) -> int:
        """Messages the group has not acked yet (delivered or not)."""
        ...

    def partitions(self, topic: str) -> int: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def partition_for(key: str, partitions: int) -> int:
    """Stable across processes and restarts (unlike `hash()`)."""
    return zlib.crc32(key.encode()) % partitions


def check_lane(lane: str) -> None:
    if lane not in LANES:
        raise ValueError(f"unknown lane {lane!r}; use one of {', '.join(LANES)}")


def selected_partitions(partitions: Collection[int] | None, total: int, count: int) -> list[int]:
    """The partitions a consume call reads, after checking its arguments."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if partitions is None:
        return list(range(total))
    chosen = sorted(set(partitions))
    if not chosen or chosen[0] < 0 or chosen[-1] >= total:
        raise ValueError(f"partitions must be a non-empty subset of 0..{total - 1}, got {list(partitions)}")
    return chosen


def rotated(items: list[int], turn: int) -> list[int]:
    """`items` starting at a different one each turn, so no partition starves the others."""
    shift = turn % len(items)
    return items[shift:] + items[:shift]


def retry_delay_ms(attempts: int, base_ms: int, max_ms: int) -> int:
    return min(max_ms, base_ms * (1 << (attempts - 1)))
