"""Reel rows shared by every subscriber of a process, briefly.

A count event goes to every subscriber of the reel, and each must be authorized again. Reading
the reel once per subscriber is 2,000 queries for 2,000 subscribers of one event; a snapshot
fetched once (concurrent readers wait for the same fetch) and kept for `ttl_s` makes it one.
Blocks between users are not cached: they are checked per subscriber and event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from reels.domain.models import Reel

Fetch = Callable[[int], Awaitable[Reel | None]]


class ReelSnapshots:
    def __init__(self, ttl_s: float = 0.5) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[int, tuple[float, asyncio.Future[Reel | None]]] = {}

    async def get(self, reel_id: int, fetch: Fetch) -> Reel | None:
        now = time.monotonic()
        entry = self._entries.get(reel_id)
        # A snapshot belongs to the event loop that fetched it (tests run apps on several loops).
        if entry is None or entry[0] < now or entry[1].get_loop() is not asyncio.get_running_loop():
            if len(self._entries) > 10_000:  # forget expired snapshots now and then
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
            future: asyncio.Future[Reel | None] = asyncio.ensure_future(fetch(reel_id))
            entry = self._entries[reel_id] = (now + self.ttl_s, future)
        if entry[1].done() and entry[1].exception() is None:
            return entry[1].result()  # the common case: no scheduling round for each subscriber
        try:
            return await asyncio.shield(entry[1])
        except Exception:
            self._entries.pop(reel_id, None)  # a failed read is not kept
            raise
