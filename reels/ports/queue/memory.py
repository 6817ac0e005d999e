"""In-process work queue: the Redis adapter's semantics on asyncio, for one process that runs
the API and the workers together. Nothing survives a restart."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from reels.ports.queue.base import (
    DEFAULT_PARTITIONS,
    LANES,
    DeadLetter,
    Message,
    check_lane,
    partition_for,
    retry_delay_ms,
    rotated,
    selected_partitions,
)


class _StreamIds:
    """Redis-style "<ms>-<seq>" ids from the wall clock, so they keep growing across restarts
    (a consumer may keep its high-water marks in the database)."""

    def __init__(self) -> None:
        self._millis = 0
        self._seq = 0

    def next(self) -> str:
        millis = time.time_ns() // 1_000_000
        if millis > self._millis:
            self._millis, self._seq = millis, 0
        else:
            self._seq += 1
        return f"{self._millis}-{self._seq}"


@dataclass
class _Entry:
    id: str
    payload_json: str  # stored as JSON, like Redis: a payload that cannot travel fails here too


@dataclass
class _Pending:
    entry: _Entry
    consumer: str
    delivered_at: float  # monotonic; idle time counts from here
    deliveries: int
    retry_at: float | None = None  # set while waiting out a retry backoff


@dataclass
class _Group:
    next_index: int  # absolute index of the first entry not yet delivered to this group
    pending: dict[str, _Pending] = field(default_factory=dict)


@dataclass
class _Stream:
    entries: deque[_Entry] = field(default_factory=deque)
    first_index: int = 0  # absolute index of entries[0]
    groups: dict[str, _Group] = field(default_factory=dict)
    ids: _StreamIds = field(default_factory=_StreamIds)

    @property
    def end(self) -> int:
        return self.first_index + len(self.entries)

    def group(self, name: str) -> _Group:
        # A new group starts at the oldest retained entry, like XGROUP CREATE ... 0.
        return self.groups.setdefault(name, _Group(next_index=self.first_index))

    def take_new(self, group: _Group) -> _Entry | None:
        if group.next_index >= self.end:
            return None
        entry = self.entries[group.next_index - self.first_index]
        group.next_index += 1
        return entry

    def trim(self) -> None:
        """Drop entries every group has had delivered (pending ones are held by their group)."""
        if not self.groups:
            return
        keep_from = min(group.next_index for group in self.groups.values())
        while self.first_index < keep_from:
            self.entries.popleft()
            self.first_index += 1


class MemoryWorkQueue:
    def __init__(
        self,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        retry_base_ms: int = 1000,
        retry_max_ms: int = 60_000,
        dead_letter_limit: int = 10_000,
    ) -> None:
        if partitions < 1:
            raise ValueError("a topic needs at least one partition")
        self._partitions = partitions
        self._retry_base_ms = retry_base_ms
        self._retry_max_ms = retry_max_ms
        self._dead_letter_limit = dead_letter_limit
        self._streams: dict[tuple[str, int, str], _Stream] = {}
        self._dead: dict[str, deque[DeadLetter]] = {}
        self._dead_ids = _StreamIds()
        self._wakeups: dict[str, asyncio.Event] = {}
        self._turns = itertools.count()

    def partitions(self, topic: str) -> int:
        return self._partitions

    def _stream(self, topic: str, partition: int, lane: str) -> _Stream:
        return self._streams.setdefault((topic, partition, lane), _Stream())

    def _wake(self, topic: str) -> None:
        event = self._wakeups.pop(topic, None)
        if event is not None:
            event.set()

    async def publish(self, topic: str, payload: dict[str, Any], *, key: str, lane: str = "normal") -> str:
        check_lane(lane)
        return self._append(topic, partition_for(key, self._partitions), lane, json.dumps(payload))

    def _append(self, topic: str, partition: int, lane: str, payload_json: str) -> str:
        stream = self._stream(topic, partition, lane)
        entry = _Entry(stream.ids.next(), payload_json)
        stream.entries.append(entry)
        self._wake(topic)
        return entry.id

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
        chosen = selected_partitions(partitions, self._partitions, count)
        deadline = time.monotonic() + block_ms / 1000
        while True:
            # Register for wake-ups before looking, so a publish in between is not missed.
            wakeup = self._wakeups.setdefault(topic, asyncio.Event())
            messages, wake_at = self._take(topic, group, consumer, count, chosen, claim_idle_ms / 1000)
            now = time.monotonic()
            if messages or now >= deadline:
                return messages
            with suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), min(deadline, wake_at) - now)

    def _take(
        self, topic: str, group_name: str, consumer: str, count: int, chosen: list[int], claim_idle_s: float
    ) -> tuple[list[Message], float]:
        """Messages to deliver now, and when something pending becomes due or claimable."""
        now = time.monotonic()
        order = rotated(chosen, next(self._turns))
        streams = [(partition, lane, self._stream(topic, partition, lane)) for lane in LANES for partition in order]
        taken: list[Message] = []
        wake_at = float("inf")

        def deliver(partition: int, lane: str, pending: _Pending) -> None:
            taken.append(
                Message(
                    topic,
                    partition,
                    lane,
                    pending.entry.id,
                    orjson.loads(pending.entry.payload_json),
                    pending.deliveries,
                    consumer,
                )
            )

        # Retries whose backoff is over, then work idle longer than claim_idle_s (its consumer
        # died or hangs); both in id order per stream.
        for phase in ("retries", "claims"):
            for partition, lane, stream in streams:
                for pending in sorted(stream.group(group_name).pending.values(), key=_position):
                    due = pending.retry_at if phase == "retries" else pending.delivered_at + claim_idle_s
                    if due is None:
                        continue
                    if due > now:
                        wake_at = min(wake_at, due)
                        continue
                    if len(taken) == count:
                        return taken, wake_at
                    pending.consumer, pending.delivered_at, pending.retry_at = consumer, now, None
                    pending.deliveries += 1
                    deliver(partition, lane, pending)

        for partition, lane, stream in streams:
            group = stream.group(group_name)
            while len(taken) < count and (entry := stream.take_new(group)) is not None:
                pending = group.pending[entry.id] = _Pending(entry, consumer, now, deliveries=1)
                deliver(partition, lane, pending)
            stream.trim()
        return taken, wake_at

    def _pending(self, message: Message, group: str) -> tuple[_Group, _Pending] | None:
        """The group's pending entry for this delivery, if `message.consumer` still holds it."""
        stream = self._streams.get((message.topic, message.partition, message.lane))
        state = stream.groups.get(group) if stream is not None else None
        pending = state.pending.get(message.id) if state is not None else None
        if state is None or pending is None or pending.consumer != message.consumer:
            return None
        return state, pending

    async def ack(self, message: Message, group: str) -> None:
        stream = self._streams.get((message.topic, message.partition, message.lane))
        state = stream.groups.get(group) if stream is not None else None
        if state is not None:
            state.pending.pop(message.id, None)

    async def ack_many(self, messages: Collection[Message], group: str) -> None:
        for message in messages:
            await self.ack(message, group)

    async def touch(self, message: Message, group: str) -> bool:
        held = self._pending(message, group)
        if held is None:
            return False
        held[1].delivered_at = time.monotonic()
        return True

    async def retry_or_dead_letter(self, message: Message, group: str, error: str, *, max_attempts: int = 3) -> bool:
        held = self._pending(message, group)
        if held is None:
            return True
        state, pending = held
        if message.attempts >= max_attempts:
            del state.pending[message.id]
            letters = self._dead.setdefault(message.topic, deque(maxlen=self._dead_letter_limit))
            letters.append(
                DeadLetter(
                    self._dead_ids.next(),
                    message.topic,
                    message.partition,
                    message.lane,
                    message.payload,
                    error,
                    message.attempts,
                    datetime.now(UTC),
                )
            )
            return False
        now = time.monotonic()
        pending.delivered_at = now
        pending.retry_at = now + retry_delay_ms(message.attempts, self._retry_base_ms, self._retry_max_ms) / 1000
        self._wake(message.topic)  # blocked consumers recompute when to look again
        return True

    async def dead_letters(self, topic: str, *, limit: int = 100) -> list[DeadLetter]:
        letters = self._dead.get(topic, deque())
        return list(itertools.islice(reversed(letters), limit))

    async def requeue_dead_letter(self, topic: str, dead_letter_id: str) -> bool:
        letters = self._dead.get(topic, deque())
        for letter in letters:
            if letter.id == dead_letter_id:
                letters.remove(letter)
                self._append(topic, letter.partition, letter.lane, json.dumps(letter.payload))
                return True
        return False

    async def depth(self, topic: str, group: str) -> int:
        total = 0
        for (stream_topic, _, _), stream in self._streams.items():
            if stream_topic != topic:
                continue
            state = stream.groups.get(group)
            total += len(stream.entries) if state is None else stream.end - state.next_index + len(state.pending)
        return total

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _position(pending: _Pending) -> tuple[int, int]:
    millis, seq = pending.entry.id.split("-")
    return int(millis), int(seq)
