"""Request budgets taken a lease at a time: fewer trips to the cache, never more requests."""

from __future__ import annotations

from typing import Any

from reels.ports.kv import MemoryKeyValue, TokenLeases
from reels.ports.kv.leases import MAX_LEASE, lease_size


class CountingKeyValue(MemoryKeyValue):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trips = 0

    async def take_token(self, key: str, *, rate_per_s: float, burst: int, up_to: int = 1) -> tuple[int, float]:
        self.trips += 1
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
