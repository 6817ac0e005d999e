"""Whether a creator is fanned out is counted once, then kept: fan-out and inbox reads agree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from reels.domain import feed_inbox
from reels.domain.feed_inbox import InboxSettings
from reels.ports.graph import FollowGraph
from reels.ports.kv import MemoryKeyValue


class CountingGraph:
    def __init__(self, followers: dict[int, int]) -> None:
        self.followers = followers
        self.asked: list[list[int]] = []

    async def follow_counts(self, users: Sequence[int]) -> dict[int, tuple[int, int]]:
        self.asked.append(list(users))
        return {user: (self.followers.get(user, 0), 0) for user in users}


async def test_the_verdict_is_counted_once_and_kept_for_both_sides() -> None:
    kv = MemoryKeyValue()
    graph = CountingGraph({1: 5, 2: 1, 3: 0})
    settings = InboxSettings(size=500, active_days=30, celebrity_followers=2)
    among = feed_inbox.celebrities_among

    assert await among(kv, cast(FollowGraph, graph), [1, 2, 3], settings) == [1]
    graph.followers[2] = 10  # crossing the threshold shows once the kept verdict ends
    assert await among(kv, cast(FollowGraph, graph), [3, 2, 1], settings) == [1]
    assert await among(kv, cast(FollowGraph, graph), [4, 1], settings) == [1]
    assert graph.asked == [[1, 2, 3], [4]]  # only the user never asked about is counted

    await kv.delete(feed_inbox.celebrity_key(2))  # as when CELEBRITY_VERDICT_S has passed
    assert await among(kv, cast(FollowGraph, graph), [2], settings) == [2]
    assert await among(kv, cast(Any, graph), [], settings) == []
