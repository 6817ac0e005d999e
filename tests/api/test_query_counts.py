"""A query's SQL count does not grow with its page size: every relation goes through a
per-request DataLoader that fetches one level in one batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from tests.conftest import Api, insert_ready_reel, platform_of

FEED = """query Feed($n: Int!) { feed(first: $n) { edges { node {
  id caption viewerHasLiked thumbnailUrl playback { hlsUrl }
  creator { username followerCount viewerIsFollowing reels(first: 2) { edges { node { id } } } }
  hashtags { name } audio { title }
  counts { likes views }
  comments(first: 2) { totalCount edges { node { text author { username } } } }
} } } }"""


@contextmanager
def counting_statements(api: Api) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = platform_of(api).engine.sync_engine

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_feed_statements_do_not_grow_with_page_size(api: Api) -> None:
    token, _ = api.register("reader")
    creators = [api.register(f"creator{n}")[1] for n in range(6)]
    for n in range(24):
        insert_ready_reel(api, creators[n % len(creators)]["id"], caption=f"reel {n} #tag{n % 3}")

    def run_feed(size: int) -> int:
        with counting_statements(api) as statements:
            edges = api.data(FEED, {"n": size}, token=token)["feed"]["edges"]
        assert len(edges) == size
        return len(statements)

    small, large = run_feed(3), run_feed(24)
    assert large == small, f"{small} statements for 3 reels but {large} for 24"
