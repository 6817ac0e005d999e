"""A query's SQL count does not grow with its page size: every relation goes through a
per-request DataLoader that fetches one level in one batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from reels import db
from reels.domain.counts import cache_key
from reels.domain.models import ReelCounts
from reels.http.app import create_app
from reels.settings import Settings
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run

FEED = """query Feed($n: Int!, $after: String) { feed(first: $n, after: $after) { edges { cursor
  reason { source score } playback { renditions { height } startupSegmentUrl }
  node {
  id caption viewerHasLiked thumbnailUrl playback { hlsUrl }
  creator { username followerCount viewerIsFollowing reels(first: 2) { edges { node { id } } } }
  hashtags { name } audio { title }
  counts { likes views }
  comments(first: 2) { totalCount edges { node { text author { username } } } }
} } pageInfo { endCursor } } }"""


@contextmanager
def counting_statements(api: Api) -> Iterator[list[str]]:
    """The statements run while inside: through SQLAlchemy's execution, and on the driver."""
    statements: list[str] = []
    engine = platform_of(api).engine.sync_engine

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    driver_rows = db.DriverStatement.rows

    async def record_driver_read(read: db.DriverStatement, engine: AsyncEngine, values: Mapping[str, Any]) -> Any:
        statements.append(str(read.statement.compile(dialect=engine.dialect)))
        return await driver_rows(read, engine, values)

    event.listen(engine, "before_cursor_execute", record)
    db.DriverStatement.rows = record_driver_read  # type: ignore[method-assign, assignment]
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        db.DriverStatement.rows = driver_rows  # type: ignore[method-assign]


def test_feed_statements_do_not_grow_with_page_size(embedded_settings: Settings) -> None:
    """A new session (candidates, features, scoring) and a page after a cursor each run a fixed
    number of statements, whatever `first` is. (No workers run, whose flushes would be counted
    too, and the sizes leave more than ten reels in the list, so no list is being built ahead in
    the background while statements are counted.)"""
    with TestClient(create_app(embedded_settings, run_workers=False)) as client:
        statements_stay_flat(Api(client))


def statements_stay_flat(api: Api) -> None:
    token, _ = api.register("reader")
    creators = [api.register(f"creator{n}")[1] for n in range(8)]
    for n in range(40):
        insert_ready_reel(api, creators[n % len(creators)]["id"], caption=f"reel {n} #tag{n % 3}")
    api.data(FEED, {"n": 1}, token=token)  # the first request of a viewer also builds their inbox

    def run_feed(size: int, after: str | None) -> tuple[int, str]:
        with counting_statements(api) as statements:
            feed = api.data(FEED, {"n": size, "after": after}, token=token)["feed"]
        assert len(feed["edges"]) == size
        return len(statements), feed["pageInfo"]["endCursor"]

    small, cursor = run_feed(3, None)
    large, _ = run_feed(12, None)
    assert large == small, f"{small} statements for a new session of 3 reels but {large} for 12"
    small_page, _ = run_feed(3, cursor)
    large_page, _ = run_feed(12, cursor)
    assert large_page == small_page, f"{small_page} statements for a page of 3 reels but {large_page} for 12"


def test_a_reel_and_a_like_read_the_creator_with_the_reel(embedded_settings: Settings) -> None:
    """Opening or liking a reel checks its creator (a suspended creator hides it) and may show
    them: the creator's row comes with the reel's, so the only other read of `users` is the
    token's account."""
    with TestClient(create_app(embedded_settings, run_workers=False)) as client:
        api = Api(client)
        token, _ = api.register("viewer")
        _, creator = api.register("maker")
        reel_id = insert_ready_reel(api, creator["id"])
        for operation in (
            "query R($id: ID!) { reel(id: $id) { id creator { username } } }",
            "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { reel { creator { username } } userErrors { message } } }",
        ):
            with counting_statements(api) as statements:
                data = api.data(operation, {"id": reel_id}, token=token)
            assert "maker" in str(data)
            flat = [" ".join(statement.split()) for statement in statements]
            reads_of_users = [s for s in flat if " FROM users " in s and "JOIN users" not in s]
            assert len(reads_of_users) == 1, reads_of_users  # the account of the token


LIKED_NODE = "id viewerHasLiked creator { username } counts { likes }"
PAGES_OF_REELS = {
    "feed": f"query {{ feed(first: 10) {{ edges {{ node {{ {LIKED_NODE} }} }} }} }}",
    "trending": f"query {{ trending(first: 10) {{ edges {{ node {{ {LIKED_NODE} }} }} }} }}",
    "following": f"query {{ followingFeed(first: 10) {{ edges {{ node {{ {LIKED_NODE} }} }} }} }}",
    "profile": f'query {{ user(username: "maker") {{ reels(first: 10) {{ edges {{ node {{ {LIKED_NODE} }} }} }} }} }}',
}


def test_reels_come_with_whether_the_viewer_likes_them_and_their_counts(
    embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`viewerHasLiked`, the creator and the counts of a page of reels (the feed, trending,
    following, a profile's) or of one reel are read in the statement that reads the reels (a
    hashtag's and a sound's pages share the profile's): no statement of the viewer's likes or of
    counts runs on its own, the cache is not asked for counts read from the primary, and
    trending and following read no users but the token's account."""
    with TestClient(create_app(embedded_settings, run_workers=False)) as client:
        api = Api(client)
        token, _ = api.register("viewer")
        _, creator = api.register("maker")
        reels = [insert_ready_reel(api, creator["id"], caption=f"reel {n}") for n in range(4)]
        stored_likes = {reel_id: 10 + n for n, reel_id in enumerate(reels)}
        run(api, _store_likes, api, stored_likes)
        asked: list[object] = []
        kv = platform_of(api).kv
        monkeypatch.setattr(kv, "get_many", _noting(asked, kv.get_many))
        like = "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { userErrors { message } } }"
        assert api.data(like, {"id": reels[1]}, token=token)["likeReel"]["userErrors"] == []
        follow = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { message } } }"
        assert api.data(follow, {"id": creator["id"]}, token=token)["follow"]["userErrors"] == []
        reel = f"query R($id: ID!) {{ reel(id: $id) {{ {LIKED_NODE} }} }}"
        for name, query, variables in [
            *((name, query, {}) for name, query in PAGES_OF_REELS.items()),
            *(("reel", reel, {"id": reel_id}) for reel_id in reels[:2]),
        ]:
            with counting_statements(api) as statements:
                data = api.data(query, variables, token=token)
            nodes = [data["reel"]] if name == "reel" else _edges_of(data)
            assert nodes, name
            assert {node["id"]: node["viewerHasLiked"] for node in nodes} == {
                node["id"]: node["id"] == reels[1] for node in nodes
            }, name
            assert all(node["creator"] == {"username": "maker"} for node in nodes), name
            assert {node["id"]: node["counts"]["likes"] for node in nodes} == {
                node["id"]: stored_likes[node["id"]] for node in nodes
            }, name
            if name in ("profile", "following", "trending"):  # For You may leave out what the viewer liked
                assert reels[1] in {node["id"] for node in nodes}, name
            flat = [" ".join(statement.split()) for statement in statements]
            assert not [s for s in flat if s.startswith(("SELECT likes.", "SELECT reel_counts."))], (name, flat)
            assert not [keys for keys, *_ in asked if any(key.startswith("counts:") for key in keys)], name
            if name in ("trending", "following"):  # (a new For You session reads users to rank)
                reads_of_users = [s for s in flat if " FROM users " in s and "JOIN users" not in s]
                assert len(reads_of_users) == 1, (name, reads_of_users)  # the token's account


async def _store_likes(api: Api, likes: dict[str, int]) -> None:
    async with platform_of(api).sessions.begin() as session:
        session.add_all([ReelCounts(reel_id=db_id(reel_id), likes=n) for reel_id, n in likes.items()])


def _edges_of(data: dict[str, object]) -> list[dict[str, object]]:
    connection: object = data
    while isinstance(connection, dict) and "edges" not in connection:
        (connection,) = connection.values()
    assert isinstance(connection, dict)
    return [edge["node"] for edge in connection["edges"]]


def test_follow_counts_are_counted_once_and_again_only_after_a_change(embedded_settings: Settings) -> None:
    """A profile's follower and followee counts come from the shared cache: counting a popular
    creator's followers reads every one of their follows. A follow or unfollow counts again at once,
    so the next read (anyone's) shows it."""
    with TestClient(create_app(embedded_settings, run_workers=False)) as client:
        api = Api(client)
        token, _ = api.register("fan")
        _, creator = api.register("maker")
        profile = 'query { user(username: "maker") { followerCount followingCount } }'
        follow = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { message } } }"
        unfollow = "mutation U($id: ID!) { unfollow(input: {userId: $id}) { userErrors { message } } }"

        def read() -> tuple[int, list[str]]:
            with counting_statements(api) as statements:
                user = api.data(profile, token=token)["user"]
            counting = [s for s in statements if "count(" in s.lower() and "follows" in s]
            return user["followerCount"], counting

        assert read()[0] == 0
        assert read() == (0, [])  # counted once, then served from the cache
        assert api.data(follow, {"id": creator["id"]}, token=token)["follow"]["userErrors"] == []
        assert read() == (1, [])
        assert api.data(unfollow, {"id": creator["id"]}, token=token)["unfollow"]["userErrors"] == []
        assert read() == (0, [])


def test_a_reel_read_from_the_primary_serves_the_counts_read_with_it(
    embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reel's counts come with the reel from the database. Read from the primary, which every
    writer of counts commits to before the cache, they are served as they are: no statement of
    counts on its own, and the cache is neither asked nor filled."""
    with TestClient(create_app(embedded_settings, run_workers=False)) as client:
        api = Api(client)
        token, _ = api.register("viewer")
        reel_id = _counted_reel(api)
        platform = platform_of(api)
        asked: list[object] = []
        for method in ("get_many", "set_many"):
            monkeypatch.setattr(platform.kv, method, _noting(asked, getattr(platform.kv, method)))
        with counting_statements(api) as statements:
            counts = api.data(COUNTS_OF_REEL, {"id": reel_id}, token=token)["reel"]["counts"]
        assert counts == {"likes": 4, "views": 40, "comments": 2, "shares": 1}  # flagged likes left out
        assert not [s for s in statements if " ".join(s.split()).startswith("SELECT reel_counts.")], statements
        assert asked == []


def test_a_reel_read_from_a_replica_takes_the_caches_counts_else_fills_it(
    embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica may be behind the cache: the cache is asked first. When it has forgotten the
    counts (a reel nobody touched for its TTL), those read with the reel fill it, without a
    statement of their own."""
    with TestClient(create_app(embedded_settings, run_workers=False)) as client:
        api = Api(client)
        token, _ = api.register("viewer")
        reel_id = _counted_reel(api)
        platform = platform_of(api)
        replica = db.read_session_factory(platform.engine)  # the same database, not the primary's factory
        monkeypatch.setattr(platform.read_replicas, "sessions", lambda: replica)
        newer = {"likes": 9, "views": 41, "comments": 2, "shares": 1}  # flushed after the replica's copy
        run(api, platform.kv.set, cache_key(db_id(reel_id)), orjson.dumps(newer).decode())
        assert api.data(COUNTS_OF_REEL, {"id": reel_id}, token=token)["reel"]["counts"] == newer

        run(api, platform.kv.delete, cache_key(db_id(reel_id)))
        with counting_statements(api) as statements:
            counts = api.data(COUNTS_OF_REEL, {"id": reel_id}, token=token)["reel"]["counts"]
        assert counts == {"likes": 4, "views": 40, "comments": 2, "shares": 1}
        assert not [s for s in statements if " ".join(s.split()).startswith("SELECT reel_counts.")], statements
        assert orjson.loads(run(api, platform.kv.get, cache_key(db_id(reel_id)))) == counts


COUNTS_OF_REEL = "query R($id: ID!) { reel(id: $id) { counts { likes views comments shares } } }"


def _counted_reel(api: Api) -> str:
    """A reel whose stored counts the cache does not hold."""
    _, creator = api.register("maker")
    reel_id = insert_ready_reel(api, creator["id"])

    async def counted_and_forgotten() -> None:
        platform = platform_of(api)
        async with platform.sessions.begin() as session:
            session.add(ReelCounts(reel_id=db_id(reel_id), likes=7, views=40, comments=2, shares=1, excluded_likes=3))
        await platform.kv.delete(cache_key(db_id(reel_id)))

    run(api, counted_and_forgotten)
    return reel_id


def _noting(calls: list[object], method: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
    async def noted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return await method(*args, **kwargs)

    return noted
