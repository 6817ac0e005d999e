"""Request budgets taken a lease at a time: fewer trips to the cache, never more requests."""

from __future__ import annotations

import asyncio
from typing import Any

from reels.ports.kv import MemoryKeyValue, TokenLeases
from reels.ports.kv.leases import MAX_LEASE, lease_size


class CountingKeyValue(MemoryKeyValue):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trips = 0

    async def take_token(self, key: str, *, rate_per_s: float, burst: int, up_to: int = 1) -> tuple[int, float]:
        self.trips += 1
        await asyncio.sleep(0)  # a trip lets other requests run, as a network round trip does
        return await super().take_token(key, rate_per_s=rate_per_s, burst=burst, up_to=up_to)


async def test_processes_sharing_a_bucket_never_get_more_than_it_holds() -> None:
    now = [0.0]
    kv = CountingKeyValue(clock=lambda: now[0])  # a stopped clock: nothing refills
    processes = [TokenLeases(kv, clock=lambda: now[0]) for _ in range(3)]
    answers = [await processes[n % 3].take("bucket", rate_per_s=10_000, burst=100) for n in range(150)]
    assert sum(allowed for allowed, _ in answers) == 100
    assert all(retry_after > 0 for allowed, retry_after in answers if not allowed)
    assert kv.trips < 100 // MAX_LEASE + 3 + 50  # a trip a lease, and one per refusal


async def test_an_ordinary_rate_takes_one_token_a_trip_and_a_lease_ends() -> None:
    now = [0.0]
    kv = CountingKeyValue(clock=lambda: now[0])
    leases = TokenLeases(kv, clock=lambda: now[0])
    assert lease_size(10, 20) == 1
    for _ in range(5):
        assert (await leases.take("slow", rate_per_s=10, burst=20))[0]
    assert kv.trips == 5

    assert lease_size(1_000, 100) == MAX_LEASE
    assert (await leases.take("fast", rate_per_s=1_000, burst=100))[0]
    now[0] += 1  # past the lease: its unspent tokens are dropped, the bucket is asked again
    assert (await leases.take("fast", rate_per_s=1_000, burst=100))[0]
    assert kv.trips == 7


async def test_concurrent_requests_wait_for_one_trip_and_share_its_lease_or_its_refusal() -> None:
    now = [0.0]
    kv = CountingKeyValue(clock=lambda: now[0])
    leases = TokenLeases(kv, clock=lambda: now[0])
    answers = await asyncio.gather(*(leases.take("crowd", rate_per_s=10_000, burst=100) for _ in range(MAX_LEASE)))
    assert all(allowed for allowed, _ in answers)
    assert kv.trips == 1  # one lease served them all

    empty = CountingKeyValue(clock=lambda: now[0])
    leases = TokenLeases(empty, clock=lambda: now[0])
    answers = await asyncio.gather(*(leases.take("drained", rate_per_s=10_000, burst=2) for _ in range(10)))
    assert sum(allowed for allowed, _ in answers) == 2  # the bucket held two tokens
    assert all(retry_after > 0 for allowed, retry_after in answers if not allowed)
    assert empty.trips == 2  # the lease of two, then one refusal for the eight left
