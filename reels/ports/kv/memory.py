"""The key-value port in one process: the embedded adapter."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from reels.ports.kv.base import WrongTypeError, bucket_ttl_s, check_bucket


class _SortedSet(dict[str, float]):
    pass


class _Hash(dict[str, float]):
    pass


@dataclass
class _Bucket:
    tokens: float
    refilled_at: float


_Value = str | _SortedSet | _Hash | _Bucket
_V = TypeVar("_V", str, _SortedSet, _Hash, _Bucket)


class MemoryKeyValue:
    """Dict-backed adapter for one process. Operations never await, so each is atomic.

    Expired keys are dropped on the next operation (a heap ordered by expiry time), so
    de-duplication keys that are never read again do not pile up. `clock` (monotonic seconds)
    is injectable for tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, _Value] = {}
        self._expires_at: dict[str, float] = {}
        self._expiry_heap: list[tuple[float, str]] = []

    def _purge_expired(self) -> None:
        now = self._clock()
        while self._expiry_heap and self._expiry_heap[0][0] <= now:
            when, key = heapq.heappop(self._expiry_heap)
            if self._expires_at.get(key) == when:  # else the TTL changed since: a stale heap item
                del self._expires_at[key]
                del self._data[key]

    def _set_ttl(self, key: str, ttl_s: float) -> None:
        when = self._clock() + ttl_s
        self._expires_at[key] = when
        heapq.heappush(self._expiry_heap, (when, key))

    def _read(self, key: str, kind: type[_V]) -> _V | None:
        self._purge_expired()
        value = self._data.get(key)
        if value is None or isinstance(value, kind):
            return value
        raise WrongTypeError(f"key {key!r} holds a {type(value).__name__.strip('_')}, not a {kind.__name__.strip('_')}")

    def _sorted_set_to_write(self, key: str) -> _SortedSet:
        scores = self._read(key, _SortedSet)
        if scores is None:
            scores = self._data[key] = _SortedSet()
        return scores

    def _remove(self, key: str) -> bool:
        self._expires_at.pop(key, None)
        return self._data.pop(key, None) is not None

    async def get(self, key: str, *, ttl_s: float | None = None) -> str | None:
        value = self._read(key, str)
        if value is not None and ttl_s is not None:
            self._set_ttl(key, ttl_s)
        return value

    async def set(self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False) -> bool:
        self._purge_expired()
        if only_if_absent and key in self._data:
            return False
        self._remove(key)
        self._data[key] = value
        if ttl_s is not None:
            self._set_ttl(key, ttl_s)
        return True

    async def delete(self, *keys: str) -> int:
        self._purge_expired()
        return sum(self._remove(key) for key in keys)

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        return [self._read(key, str) for key in keys]

    async def set_many(
        self, values: Mapping[str, str], *, ttl_s: float | None = None, only_if_absent: bool = False
    ) -> None:
        for key, value in values.items():
            await self.set(key, value, ttl_s=ttl_s, only_if_absent=only_if_absent)

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        value = int(self._read(key, str) or 0) + amount
        self._data[key] = str(value)
        if ttl_s is not None and key not in self._expires_at:
            self._set_ttl(key, ttl_s)
        return value

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None:
        if mapping:
            self._sorted_set_to_write(key).update({member: float(score) for member, score in mapping.items()})

    async def zrange_desc(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        scores: Mapping[str, float] = self._read(key, _SortedSet) or {}
        ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)
        size = len(ranked)
        start = max(size + start, 0) if start < 0 else start
        stop = size + stop if stop < 0 else stop
        return ranked[start : stop + 1] if start <= stop else []

    async def zrem(self, key: str, *members: str) -> int:
        scores = self._read(key, _SortedSet)
        if scores is None:
            return 0
        removed = sum(scores.pop(member, None) is not None for member in members)
        if not scores:  # like Redis: an empty sorted set does not exist
            self._remove(key)
        return removed

    async def zadd_capped(
        self, sets: Mapping[str, Mapping[str, float]], *, keep: int, ttl_s: float | None = None
    ) -> None:
        for key, mapping in sets.items():
            await self.zadd(key, mapping)
            scores = self._read(key, _SortedSet)
            if scores is None:
                continue
            if len(scores) > keep:
                for member, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]))[: len(scores) - keep]:
                    del scores[member]
            if not scores:
                self._remove(key)
            elif ttl_s is not None:
                self._set_ttl(key, ttl_s)

    async def expire(self, key: str, ttl_s: float) -> bool:
        self._purge_expired()
        if key not in self._data:
            return False
        self._set_ttl(key, ttl_s)
        return True

    async def hincr(self, key: str, amounts: Mapping[str, float]) -> dict[str, float]:
        return (await self.hincr_many({key: amounts})).get(key, {})

    async def hincr_many(
        self, updates: Mapping[str, Mapping[str, float]], *, returning: bool = True
    ) -> dict[str, dict[str, float]]:
        new = {}
        for key, amounts in updates.items():
            if not amounts:
                continue
            fields = self._read(key, _Hash)
            if fields is None:
                fields = self._data[key] = _Hash()
            for name, amount in amounts.items():
                fields[name] = fields.get(name, 0.0) + float(amount)
            new[key] = {name: fields[name] for name in amounts}
        return new if returning else {}

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        return [dict(self._read(key, _Hash) or {}) for key in keys]

    async def take_token(self, key: str, *, rate_per_s: float, burst: int, up_to: int = 1) -> tuple[int, float]:
        check_bucket(rate_per_s, burst, up_to)
        bucket = self._read(key, _Bucket)
        now = self._clock()
        if bucket is None:
            tokens = float(burst)
        else:
            tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.refilled_at) * rate_per_s)
        taken = min(up_to, int(tokens))
        retry_after = 0.0 if taken else (1 - tokens) / rate_per_s
        self._data[key] = _Bucket(tokens - taken, now)
        self._set_ttl(key, bucket_ttl_s(rate_per_s, burst))
        return taken, retry_after

    async def expire_if_equal(self, key: str, value: str, ttl_s: float) -> bool:
        if await self.get(key) != value:
            return False
        self._set_ttl(key, ttl_s)
        return True

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
