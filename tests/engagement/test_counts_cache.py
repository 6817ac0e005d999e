"""Counts as served on a page of reels. Read from the primary with the page, they are served as
they are (every writer of counts commits them before it caches them); read from a replica, which
may be behind the cache, the cache comes first and the counts read with the page fill its
misses. (A reel read by id: tests/api/test_query_counts.py.)"""

from __future__ import annotations

import json

import pytest

from reels import db
from reels.domain.counts import cache_key
from reels.domain.models import ReelCounts
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.engagement.conftest import unique

PAGE = """query P($username: String!) {
  user(username: $username) { reels(first: 5) { edges { node { id counts { likes comments } } } } }
}"""


@pytest.mark.parametrize("reads", ["primary", "replica"])
def test_a_page_serves_the_primarys_counts_else_the_caches_and_fills_its_misses(
    live_api: Api, monkeypatch: pytest.MonkeyPatch, reads: str
) -> None:
    api = live_api
    _, creator = api.register(unique("creator"))
    forgotten, newer, untouched = (insert_ready_reel(api, creator["id"]) for _ in range(3))
    platform = platform_of(api)
    if reads == "replica":
        replica = db.read_session_factory(platform.engine)  # the same database, not the primary's factory
        monkeypatch.setattr(platform.read_replicas, "sessions", lambda: replica)

    async def store() -> None:
        async with platform.sessions.begin() as session:
            session.add_all([
                ReelCounts(reel_id=db_id(forgotten), likes=7, comments=2),
                ReelCounts(reel_id=db_id(newer), likes=3),
            ])  # fmt: skip
        # The cache has a flush the database lacks: a replica may be that far behind (the
        # primary never is, so from it the stored count is served).
        await platform.kv.set(cache_key(db_id(newer)), json.dumps({"likes": 9, "views": 0, "comments": 0, "shares": 0}))

    run(api, store)
    edges = api.data(PAGE, {"username": creator["username"]})["user"]["reels"]["edges"]
    served = {edge["node"]["id"]: edge["node"]["counts"] for edge in edges}
    assert served == {
        forgotten: {"likes": 7, "comments": 2},
        newer: {"likes": 3 if reads == "primary" else 9, "comments": 0},
        untouched: {"likes": 0, "comments": 0},
    }

    async def cached() -> list[str | None]:
        return await platform.kv.get_many([cache_key(db_id(reel)) for reel in (forgotten, newer, untouched)])

    stored = [json.loads(value)["likes"] if value else None for value in run(api, cached)]
    # From the primary the cache is left alone; from a replica its misses are filled.
    assert stored == ([None, 9, None] if reads == "primary" else [7, 9, 0])
