"""How many followers and followees users have, as served: from the shared cache, falling back to
the follow graph.

Counting a popular creator's followers reads every one of their follows (tens of milliseconds on
the SQL graph), and a profile shows the count on every view. The cache holds each user's pair;
a follow, unfollow or block counts both users again and writes the new pairs over the cached
ones before it answers, so whoever made the change sees it at once. A reader that misses fills
the cache only where the key is still absent, so it never puts an older pair back over one a
change wrote meanwhile. Two changes to one user at the same moment can leave the earlier pair
in the cache; CACHE_TTL_S bounds how long.
"""

from __future__ import annotations

from collections.abc import Sequence

from reels.ports.graph import FollowGraph
from reels.ports.kv import KeyValue

CACHE_TTL_S = 300
NO_FOLLOWS = (0, 0)


def cache_key(user_id: int) -> str:
    return f"follow-counts:{user_id}"


def _encode(pair: tuple[int, int]) -> str:
    return f"{pair[0]} {pair[1]}"


def _decode(value: str) -> tuple[int, int]:
    followers, following = value.split()
    return int(followers), int(following)


async def read(kv: KeyValue, graph: FollowGraph, users: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(followers, following) of each of `users`."""
    if not users:
        return {}
    cached = await kv.get_many([cache_key(user) for user in users])
    found = {user: _decode(value) for user, value in zip(users, cached, strict=True) if value}
    missing = [user for user in dict.fromkeys(users) if user not in found]
    if missing:
        counted = await graph.follow_counts(missing)
        pairs = {user: counted.get(user, NO_FOLLOWS) for user in missing}
        await kv.set_many(
            {cache_key(user): _encode(pair) for user, pair in pairs.items()}, ttl_s=CACHE_TTL_S, only_if_absent=True
        )
        found |= pairs
    return found


async def recount(kv: KeyValue, graph: FollowGraph, users: Sequence[int]) -> None:
    """After a change to the follows between `users`: count them again, over what is cached."""
    counted = await graph.follow_counts(list(users))
    await kv.set_many({cache_key(user): _encode(counted.get(user, NO_FOLLOWS)) for user in users}, ttl_s=CACHE_TTL_S)
