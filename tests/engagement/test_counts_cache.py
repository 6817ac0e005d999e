"""Counts as served: the cache first, the stored counts where it has forgotten a reel."""

from __future__ import annotations

import json

from reels.domain.counts import cache_key
from reels.domain.models import ReelCounts
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.engagement.conftest import unique

COUNTS = """query C($a: ID!, $b: ID!, $c: ID!) {
  a: reel(id: $a) { counts { likes comments } }
  b: reel(id: $b) { counts { likes } }
  c: reel(id: $c) { counts { likes } }
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
        # The aggregator wrote a newer count to the cache after its last flush.
        await platform.kv.set(cache_key(db_id(newer)), json.dumps({"likes": 9, "views": 0, "comments": 0, "shares": 0}))

    run(api, store)
    data = api.data(COUNTS, {"a": forgotten, "b": newer, "c": untouched})
    assert (data["a"]["counts"], data["b"]["counts"]["likes"], data["c"]["counts"]["likes"]) == (
        {"likes": 7, "comments": 2},
        9,
        0,
    )

    async def cached() -> list[str | None]:
        return await platform.kv.get_many([cache_key(db_id(reel)) for reel in (forgotten, newer, untouched)])

    stored = [json.loads(value)["likes"] if value else None for value in run(api, cached)]
    assert stored == [7, 9, 0]  # the misses cached, the cached count kept
