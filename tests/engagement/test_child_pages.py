"""Pages of several parents read in one batch (aliases of a query, a list whose items each show
a page): each parent gets its own newest children in order, and says whether it has more, on
SQLite and on PostgreSQL, where each parent's page is a LATERAL subquery of its own."""

from __future__ import annotations

from tests.conftest import Api, insert_ready_reel
from tests.engagement.conftest import unique
from tests.engagement.test_engagement_api import COMMENT

PAGE = "reels(first: 2) { edges { node { caption } } pageInfo { hasNextPage } }"
PROFILES = f"""query P($a: String!, $b: String!, $c: String!) {{
  a: user(username: $a) {{ {PAGE} }} b: user(username: $b) {{ {PAGE} }} c: user(username: $c) {{ {PAGE} }} }}"""
COMMENT_PAGE = "comments(first: 2) { edges { node { text } } pageInfo { hasNextPage } }"
TWO_REELS = (
    f"""query R($a: ID!, $b: ID!) {{ a: reel(id: $a) {{ {COMMENT_PAGE} }} b: reel(id: $b) {{ {COMMENT_PAGE} }} }}"""
)


def page(connection: dict[str, object], field: str = "caption") -> tuple[list[str], bool]:
    edges = connection["edges"]
    assert isinstance(edges, list)
    more = connection["pageInfo"]
    assert isinstance(more, dict)
    return [edge["node"][field] for edge in edges], more["hasNextPage"]


def test_each_creators_page_is_its_own_in_one_batch(live_api: Api) -> None:
    api = live_api
    token, _ = api.register(unique("viewer"))
    names = {alias: unique(f"maker_{alias}") for alias in "abc"}
    makers = {alias: api.register(name)[1] for alias, name in names.items()}
    insert_ready_reel(api, makers["b"]["id"], caption="b0")
    for n in range(5):
        insert_ready_reel(api, makers["c"]["id"], caption=f"c{n}")
    pages = api.data(PROFILES, names, token=token)
    assert page(pages["a"]["reels"]) == ([], False)
    assert page(pages["b"]["reels"]) == (["b0"], False)
    assert page(pages["c"]["reels"]) == (["c4", "c3"], True)


def test_each_reels_comments_are_its_own_in_one_batch(live_api: Api) -> None:
    api = live_api
    token, maker = api.register(unique("maker"))
    busy, quiet = insert_ready_reel(api, maker["id"]), insert_ready_reel(api, maker["id"])
    for text, reel in [("q0", quiet), ("b0", busy), ("b1", busy), ("b2", busy)]:
        assert api.data(COMMENT, {"id": reel, "text": text}, token=token)["addComment"]["userErrors"] == []
    reels = api.data(TWO_REELS, {"a": busy, "b": quiet}, token=token)
    assert page(reels["a"]["comments"], "text") == (["b2", "b1"], True)
    assert page(reels["b"]["comments"], "text") == (["q0"], False)
