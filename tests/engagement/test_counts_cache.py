"""Counts as served on a page of reels: the cache first, the stored counts where it has forgotten
a reel. (A reel read by id brings its stored counts: see tests/api/test_query_counts.py.)"""

from __future__ import annotations

import json

from reels.domain.counts import cache_key
from reels.domain.models import ReelCounts
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.engagement.conftest import unique

PAGE = """query P($username: String!) {
  user(username: $username) { reels(first: 5) { edges { node { id counts { likes comments } } } } }
}"""


def test_reels_the_cache_forgot_are_read_from_storage_and_cached_and_cached_counts_win(live_api: Api) -> None:
    api = live_api
    _, creator = api.register(unique("creator"))
    forgotten, newer, untouched = (insert_ready_reel(api, creator["id"]) for _ in range(3))
    platform = platform_of(api)

    async def store() -> None:
        async with platform.sessions.begin() as session:
            session.add_all([
                ReelCounts(reel_id=db_id(forgotten), likes=7, comments=2),
                ReelCounts(reel_id=db_id(newer), likes=3),
            ])  # fmt: skip
        # A page may read a replica behind the cache, which the aggregator writes after each flush.
        await platform.kv.set(cache_key(db_id(newer)), json.dumps({"likes": 9, "views": 0, "comments": 0, "shares": 0}))

    run(api, store)
    edges = api.data(PAGE, {"username": creator["username"]})["user"]["reels"]["edges"]
    served = {edge["node"]["id"]: edge["node"]["counts"] for edge in edges}
    assert served == {
        forgotten: {"likes": 7, "comments": 2},
        newer: {"likes": 9, "comments": 0},
        untouched: {"likes": 0, "comments": 0},
    }

    async def cached() -> list[str | None]:
        return await platform.kv.get_many([cache_key(db_id(reel)) for reel in (forgotten, newer, untouched)])

    stored = [json.loads(value)["likes"] if value else None for value in run(api, cached)]
    assert stored == [7, 9, 0]  # the misses cached, the cached count kept
