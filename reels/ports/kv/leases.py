"""Token buckets in the shared cache, taken a few tokens at a time.

At a high configured rate, a trip to the cache for every request's one token costs more CPU
than a small request itself. A process instead takes up to a lease's worth of tokens in one trip
and spends them locally. This is never looser than the bucket: each token spent here was taken
from the shared bucket. What it costs is precision: tokens one process holds are not there for
the same client's requests on another, so a client spread over processes may be refused up to
LEASE_S of its rate early. A lease is what the bucket refills in LEASE_S (at most MAX_LEASE):
at ordinary rates that is one token or two, so the buckets behave as if taken one by one. A
lease ends after LEASE_S; its unspent tokens are dropped, not returned.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from reels.ports.kv.base import KeyValue

LEASE_S = 0.05
MAX_LEASE = 16
MAX_HOLDERS = 10_000  # buckets with a lease held in this process; the oldest are dropped past it


def lease_size(rate_per_s: float, burst: int) -> int:
    return max(1, min(MAX_LEASE, burst, int(rate_per_s * LEASE_S)))


@dataclass
class _Lease:
    tokens: int
    ends_at: float


class TokenLeases:
    """One per process, over the shared cache's buckets."""

    def __init__(self, kv: KeyValue, clock: Callable[[], float] = time.monotonic) -> None:
        self._kv = kv
        self._clock = clock
        self._leases: OrderedDict[str, _Lease] = OrderedDict()
        # Buckets being asked for a lease, and what the trip answers: the seconds to wait if the
        # bucket refused, None if the waiters should look at the lease (or ask) again.
        self._asking: dict[str, asyncio.Future[float | None]] = {}

    async def take(self, key: str, *, rate_per_s: float, burst: int) -> tuple[bool, float]:
        """Take one token: (allowed, retry_after_s), as `KeyValue.take_token` answers.

        Requests that find the lease spent while a trip for it is on its way wait for that trip
        instead of each making its own: 20 concurrent requests of one client made 20 trips, each
        taking a lease that replaced the last (a trip per request again). At a rate whose lease is
        one token, a trip serves only its own request, and none waits for another's."""
        size = lease_size(rate_per_s, burst)
        while True:
            lease = self._leases.get(key)
            if lease is not None and lease.tokens > 0 and lease.ends_at > self._clock():
                lease.tokens -= 1
                return True, 0.0
            asking = self._asking.get(key) if size > 1 else None
            if asking is None:
                break
            retry_after = await asyncio.shield(asking)
            if retry_after is not None:  # the bucket was empty a moment ago
                return False, retry_after
        if size == 1:
            taken, retry_after = await self._kv.take_token(key, rate_per_s=rate_per_s, burst=burst)
            return taken > 0, retry_after
        self._asking[key] = asking = asyncio.get_running_loop().create_future()
        refused: float | None = None
        try:
            taken, retry_after = await self._kv.take_token(key, rate_per_s=rate_per_s, burst=burst, up_to=size)
            if taken > 1:
                self._leases[key] = _Lease(taken - 1, self._clock() + LEASE_S)
                self._leases.move_to_end(key)
                if len(self._leases) > MAX_HOLDERS:
                    self._leases.popitem(last=False)
            else:
                self._leases.pop(key, None)
                refused = None if taken else retry_after
            return taken > 0, retry_after
        finally:  # also when the trip failed: each waiter then asks for itself
            del self._asking[key]
            asking.set_result(refused)
