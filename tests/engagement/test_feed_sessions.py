"""A feed session lives on while it is read: each page's read renews its time to live."""

from __future__ import annotations

from reels.domain import feed_sessions
from reels.domain.feed_sessions import Entry, Source
from reels.ports.kv import MemoryKeyValue
from tests.ports.test_kv_contract import FakeClock


async def test_a_session_read_page_after_page_outlives_its_ttl() -> None:
    clock = FakeClock()
    kv = MemoryKeyValue(clock=clock)
    entries = [Entry(reel_id=n, source=Source.TRENDING, score=1.5 - n / 10, creator_id=7) for n in range(3)]
    await feed_sessions.save(kv, "u1", 42, entries, ttl_s=10)
    await feed_sessions.save(kv, "u2", 42, entries, ttl_s=10)
    for _ in range(3):  # thirty seconds of reading a list saved for ten
        clock.now += 9
        assert await feed_sessions.load(kv, "u1", 42, ttl_s=10) == entries
    assert await feed_sessions.load(kv, "u2", 42, ttl_s=10) is None  # not read: it ran out
