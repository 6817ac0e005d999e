"""The key-value port's interface, its error and the rules both adapters share.

Counters, caches, sorted sets, hashes of numbers (feature rows), token-bucket rate limits and short locks. Values are strings;
sorted-set scores are floats. Every command touches one key (the batch calls, `*_many` and
`zadd_capped`, pipeline single-key commands or scripts in one round trip, atomic per key only), so
the Redis adapter keeps working on Redis Cluster. TTLs are in seconds
and may be fractional; both adapters really expire keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class WrongTypeError(TypeError):
    """The key holds another kind of value (string, sorted set, hash or token bucket)."""


class KeyValue(Protocol):
    async def get(self, key: str, *, ttl_s: float | None = None) -> str | None:
        """The value, or None; with `ttl_s`, a key found lives `ttl_s` from now (read and kept
        alive in one round trip: a feed session read page after page)."""
        ...

    async def set(self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False) -> bool:
        """Store `value` (dropping any TTL unless `ttl_s` is given); False when `only_if_absent`
        and the key exists (use it for locks and de-duplication)."""
        ...

    async def delete(self, *keys: str) -> int:
        """How many of the keys existed."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[str | None]: ...

    async def set_many(
        self, values: Mapping[str, str], *, ttl_s: float | None = None, only_if_absent: bool = False
    ) -> None:
        """`set` of every key to its value (all with `ttl_s`, or none; with `only_if_absent`, only
        the keys that do not exist) in one round trip."""
        ...

    async def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int:
        """Add to an integer counter; `ttl_s` is set only when the key has no TTL yet, so a
        counter created with it is a fixed window that starts at its first increment."""
        ...

    async def zadd(self, key: str, mapping: Mapping[str, float]) -> None: ...

    async def zrange_desc(self, key: str, start: int, stop: int) -> list[tuple[str, float]]:
        """Members by score, highest first, ties by member descending; `stop` is inclusive and
        negative indexes count from the end (Redis ZRANGE ... REV semantics)."""
        ...

    async def zrem(self, key: str, *members: str) -> int: ...

    async def zadd_capped(
        self, sets: Mapping[str, Mapping[str, float]], *, keep: int, ttl_s: float | None = None
    ) -> None:
        """Add members to each sorted set, then drop all but its `keep` highest (the order of
        `zrange_desc`), and with `ttl_s` renew its TTL: a bounded log or leaderboard per key,
        each set updated atomically, all of them in one round trip."""
        ...

    async def expire(self, key: str, ttl_s: float) -> bool:
        """Give an existing key (of any kind) a TTL; False when there is no such key."""
        ...

    async def hincr(self, key: str, amounts: Mapping[str, float]) -> dict[str, float]:
        """Atomically add to fields of a hash of numbers; the fields' new values come back."""
        ...

    async def hincr_many(
        self, updates: Mapping[str, Mapping[str, float]], *, returning: bool = True
    ) -> dict[str, dict[str, float]]:
        """`hincr` of many hashes in one round trip (each hash atomically); new values by key, or
        nothing ({}) with `returning=False`, which spares reading them back."""
        ...

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        """Every field of each hash of numbers (empty for a missing key)."""
        ...

    async def take_token(self, key: str, *, rate_per_s: float, burst: int, up_to: int = 1) -> tuple[int, float]:
        """Atomically take whole tokens from a bucket refilled at `rate_per_s` up to `burst`: as
        many as are there, at most `up_to`.

        Returns (taken, retry_after_s): retry_after_s is 0 when any was taken, else how long
        until a token is there."""
        ...

    async def expire_if_equal(self, key: str, value: str, ttl_s: float) -> bool:
        """Atomically renew the TTL only while the key still holds `value`: how the holder of a
        lease (a set-if-absent key naming its owner) keeps it without taking over another's."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def check_bucket(rate_per_s: float, burst: int, up_to: int) -> None:
    if rate_per_s <= 0 or burst < 1 or up_to < 1:
        raise ValueError(
            f"token bucket needs rate_per_s > 0, burst >= 1 and up_to >= 1, got {rate_per_s}, {burst}, {up_to}"
        )


def bucket_ttl_s(rate_per_s: float, burst: int) -> float:
    # An idle bucket is full again after burst / rate seconds; its state is worthless after that.
    return burst / rate_per_s + 1
