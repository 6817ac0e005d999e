"""The follow-graph contract, run against every adapter: SQL on SQLite and on PostgreSQL, and
Bolt on FalkorDB.

One store per backend for the whole session (FalkorDB must keep one driver, see
tests/services/falkordb.py); every test makes its own users with fresh Snowflake ids, so tests
never see each other's edges.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from reels.db import Base, create_engine, read_engine, session_factory
from reels.domain.ids import new_id
from reels.domain.models import User
from reels.ports.graph import (
    BoltFollowGraph,
    Cursor,
    Edge,
    FollowGraph,
    FollowResult,
    Page,
    Relations,
    SqlFollowGraph,
    Suggestion,
    from_settings,
)
from reels.ports.graph.base import now_ms
from reels.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Backend:
    graph: FollowGraph
    # Makes users exist where the store needs them (the SQL tables have foreign keys).
    register: Callable[[Sequence[int]], Awaitable[None]]

    async def users(self, n: int) -> list[int]:
        ids = [new_id() for _ in range(n)]
        await self.register(ids)
        return ids


async def _graph_nodes_need_no_rows(ids: Sequence[int]) -> None:
    """The Bolt adapter makes a user's node on first use."""


@pytest.fixture(
    scope="session",
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.services),
        pytest.param("bolt", marks=pytest.mark.services),
    ],
)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    # Resolved outside the event loop: the service fixtures run their own (asyncio.run).
    if request.param == "bolt":
        return request.getfixturevalue("falkordb_bolt_url")
    if request.param == "postgresql":
        return Settings(database_url=request.getfixturevalue("postgres_server_url")).resolved_database_url
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('graph') / 'reels.db'}"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def backend(store_url: str) -> AsyncIterator[Backend]:
    if store_url.startswith("bolt://"):
        bolt = BoltFollowGraph(store_url, "reels", "")
        yield Backend(bolt, _graph_nodes_need_no_rows)
        await bolt.close()
        return

    schema = None
    if store_url.startswith("sqlite"):
        engine = create_engine(store_url)
    else:
        # A schema of our own: other tests may migrate the same session database.
        schema = f"graph_{uuid.uuid4().hex[:8]}"
        engine = create_async_engine(store_url, connect_args={"server_settings": {"search_path": schema}})
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = session_factory(engine)

    async def register(ids: Sequence[int]) -> None:
        rows = [{"id": i, "username": f"u{i}", "display_name": "U", "password_hash": "-"} for i in ids]
        async with sessions.begin() as session:
            await session.execute(insert(User), rows)

    sql = SqlFollowGraph(sessions, read_engine(engine))
    yield Backend(sql, register)
    await sql.close()
    if schema is not None:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


@pytest.fixture
def graph(backend: Backend) -> FollowGraph:
    return backend.graph


async def next_millisecond() -> None:
    """Wait for the clock to pass the current millisecond, so the next edge is strictly newer."""
    start = now_ms()
    while now_ms() <= start:
        await asyncio.sleep(0.0005)


async def all_pages(fetch: Callable[[Cursor | None], Awaitable[Page]]) -> list[Page]:
    pages = [await fetch(None)]
    while pages[-1].has_next:
        pages.append(await fetch(pages[-1].edges[-1].cursor))
    return pages


def newest_first(edges: list[Edge]) -> bool:
    keys = [edge.cursor for edge in edges]
    return keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)


async def test_follow_and_unfollow_are_idempotent(backend: Backend, graph: FollowGraph) -> None:
    a, b = await backend.users(2)

    assert await graph.follow(a, b) == FollowResult.CREATED
    assert await graph.follow(a, b) == FollowResult.ALREADY
    assert await graph.which_followed(a, [b]) == {b}
    assert await graph.which_followed(b, [a]) == set()
    assert await graph.follow_counts([a, b]) == {a: (0, 1), b: (1, 0)}

    assert await graph.unfollow(a, b) is True
    assert await graph.unfollow(a, b) is False
    assert await graph.follow_counts([a, b]) == {a: (0, 0), b: (0, 0)}
    assert await graph.follow(a, b) == FollowResult.CREATED


async def test_following_yourself_is_refused(backend: Backend, graph: FollowGraph) -> None:
    (a,) = await backend.users(1)

    assert await graph.follow(a, a) == FollowResult.SELF
    assert await graph.follow_counts([a]) == {a: (0, 0)}
    assert await graph.followers(a, first=10) == Page(edges=[], has_next=False)


async def test_a_block_either_way_refuses_follows(backend: Backend, graph: FollowGraph) -> None:
    a, b, c = await backend.users(3)
    await graph.block(a, b)

    assert await graph.follow(a, b) == FollowResult.BLOCKED
    assert await graph.follow(b, a) == FollowResult.BLOCKED
    assert await graph.follow_counts([a, b]) == {a: (0, 0), b: (0, 0)}
    assert await graph.follow(a, c) == FollowResult.CREATED  # only the pair is affected

    await graph.block(b, a)  # a block each way is still one blocked pair
    assert await graph.blocked_either_way(a, [b, c]) == {b}
    assert await graph.blocked_either_way(b, [a, c]) == {a}


async def test_block_removes_follows_both_ways(backend: Backend, graph: FollowGraph) -> None:
    a, b, c = await backend.users(3)
    for follower, followee in [(a, b), (b, a), (a, c), (c, b)]:
        assert await graph.follow(follower, followee) == FollowResult.CREATED

    await graph.block(a, b)
    await graph.block(a, b)

    assert await graph.follow_counts([a, b, c]) == {a: (0, 1), b: (1, 0), c: (1, 1)}
    assert await graph.which_followed(a, [b, c]) == {c}
    assert await graph.which_followed(b, [a]) == set()
    assert await graph.blocked_either_way(a, [b, c]) == {b}
    assert await graph.blocked_either_way(b, [a, c]) == {a}


async def test_blocked_either_way_in_one_batch(backend: Backend, graph: FollowGraph) -> None:
    user, blocked_by_user, blocking_user, stranger, never_seen = await backend.users(5)
    await graph.block(user, blocked_by_user)
    await graph.block(blocking_user, user)
    await graph.block(blocked_by_user, stranger)  # someone else's block is not the user's

    others = [blocked_by_user, blocking_user, stranger, never_seen]
    assert await graph.blocked_either_way(user, others) == {blocked_by_user, blocking_user}
    assert await graph.blocked_either_way(user, []) == set()
    assert await graph.blocked_either_way(never_seen, [user, blocked_by_user, blocking_user, stranger]) == set()
    with pytest.raises(ValueError):
        await graph.block(user, user)


async def test_blocks_and_mutes_are_listed_newest_first_and_undone(backend: Backend, graph: FollowGraph) -> None:
    user, first, second, third = await backend.users(4)
    for other in (first, second, third):
        await graph.block(user, other)
        await graph.mute(user, other)

    for listed, ids in ((graph.blocked, graph.blocked_ids), (graph.muted, graph.muted_ids)):
        page = await listed(user, first=2)
        assert [edge.user_id for edge in page.edges] == [third, second] and page.has_next
        rest = await listed(user, first=2, after=page.edges[-1].cursor)
        assert [edge.user_id for edge in rest.edges] == [first] and not rest.has_next
        assert await ids(user) == {first, second, third}

    await graph.unblock(user, second)
    await graph.unblock(user, second)  # harmless twice
    await graph.unmute(user, first)
    assert await graph.blocked_ids(user) == {first, third}
    assert await graph.blocked_either_way(user, [second]) == set()
    assert await graph.follow(user, second) == FollowResult.CREATED
    assert await graph.muted_ids(user) == {second, third}
    assert (await graph.blocked(first, first=5)).edges == []


async def test_follow_counts_in_one_batch(backend: Backend, graph: FollowGraph) -> None:
    a, b, c, d = await backend.users(4)
    for follower, followee in [(a, b), (a, c), (d, b), (b, a)]:
        await graph.follow(follower, followee)
    unknown = new_id()

    assert await graph.follow_counts([a, b, c, d, unknown]) == {
        a: (1, 2),
        b: (2, 1),
        c: (1, 0),
        d: (0, 1),
        unknown: (0, 0),
    }
    assert await graph.follow_counts([]) == {}


async def test_which_followed_in_one_batch(backend: Backend, graph: FollowGraph) -> None:
    viewer, x, y, z = await backend.users(4)
    await graph.follow(viewer, x)
    await graph.follow(viewer, y)
    await graph.follow(z, viewer)

    assert await graph.which_followed(viewer, [x, y, z, new_id()]) == {x, y}
    assert await graph.which_followed(viewer, []) == set()


async def test_followers_among_in_one_batch(backend: Backend, graph: FollowGraph) -> None:
    creator, fan, other_fan, stranger, followed = await backend.users(5)
    await graph.follow(fan, creator)
    await graph.follow(other_fan, creator)
    await graph.follow(creator, followed)  # the other direction does not count

    assert await graph.followers_among(creator, [fan, other_fan, stranger, followed, new_id()]) == {fan, other_fan}
    assert await graph.followers_among(creator, []) == set()


async def separately(graph: FollowGraph, user: int, others: Sequence[int]) -> Relations:
    """What `relations` must agree with: the three look-ups it replaces."""
    follows, muted, blocked = await asyncio.gather(
        graph.which_followed(user, others), graph.muted_ids(user), graph.blocked_either_way(user, others)
    )
    return Relations(frozenset(follows), frozenset(muted & set(others)), frozenset(blocked))


async def test_relations_in_one_batch(backend: Backend, graph: FollowGraph) -> None:
    (
        user,
        followed,
        muted,
        followed_and_muted,
        blocked,
        blocking,
        blocked_both_ways,
        fan,
        stranger,
    ) = await backend.users(9)
    for followee in (followed, followed_and_muted):
        assert await graph.follow(user, followee) == FollowResult.CREATED
    for other in (muted, followed_and_muted):
        await graph.mute(user, other)
    await graph.block(user, blocked)
    await graph.block(blocking, user)
    await graph.block(user, blocked_both_ways)
    await graph.block(blocked_both_ways, user)
    await graph.follow(fan, user)  # the other direction does not count
    await graph.mute(fan, user)
    await graph.block(stranger, fan)  # someone else's edges are not the user's
    await graph.follow(stranger, followed)
    await graph.mute(stranger, muted)
    never_seen = new_id()

    others = [followed, muted, followed_and_muted, blocked, blocking, blocked_both_ways, fan, stranger, never_seen]
    expected = Relations(
        follows=frozenset({followed, followed_and_muted}),
        muted=frozenset({muted, followed_and_muted}),
        blocked_either_way=frozenset({blocked, blocking, blocked_both_ways}),
    )
    assert await graph.relations(user, others) == expected
    assert await graph.relations(user, others) == await separately(graph, user, others)
    # The user among the others relates to nobody new, themself included.
    assert await graph.relations(user, [user, *others]) == expected
    assert await graph.relations(user, [followed, muted]) == Relations(
        frozenset({followed}), frozenset({muted}), frozenset()
    )

    no_relations = Relations(frozenset(), frozenset(), frozenset())
    assert await graph.relations(user, [stranger, never_seen]) == no_relations
    assert await graph.relations(never_seen, [user, *others]) == no_relations
    assert await graph.relations(user, []) == no_relations
    assert await graph.relations(fan, [user, stranger]) == Relations(
        frozenset({user}), frozenset({user}), frozenset({stranger})
    )
    assert await graph.relations(fan, [user, stranger]) == await separately(graph, fan, [user, stranger])


async def test_relations_follow_what_is_undone(backend: Backend, graph: FollowGraph) -> None:
    user, followed, muted, blocked, blocking = await backend.users(5)
    await graph.follow(user, followed)
    await graph.mute(user, muted)
    await graph.block(user, blocked)
    await graph.block(blocking, user)

    await graph.unfollow(user, followed)
    await graph.unmute(user, muted)
    await graph.unblock(user, blocked)
    others = [followed, muted, blocked, blocking]
    assert await graph.relations(user, others) == Relations(frozenset(), frozenset(), frozenset({blocking}))
    assert await graph.relations(user, others) == await separately(graph, user, others)
    await graph.unblock(blocking, user)
    assert await graph.relations(blocking, [user]) == Relations(frozenset(), frozenset(), frozenset())


async def test_relations_of_no_one_ask_no_store() -> None:
    nothing_listens = "127.0.0.1:1"
    engine = create_async_engine(f"postgresql+asyncpg://reels@{nothing_listens}/reels")
    bolt = BoltFollowGraph(f"bolt://{nothing_listens}", "reels", "")
    try:
        for graph in (SqlFollowGraph(session_factory(engine), read_engine(engine)), bolt):
            assert await graph.relations(new_id(), []) == Relations(frozenset(), frozenset(), frozenset())
    finally:
        await bolt.close()
        await engine.dispose()


@pytest.mark.parametrize("direction", ["followers", "following"])
async def test_pages_are_newest_first_without_gaps_or_duplicates(
    backend: Backend, graph: FollowGraph, direction: str
) -> None:
    (user,) = await backend.users(1)
    others = await backend.users(8)

    async def connect(other: int) -> None:
        pair = (other, user) if direction == "followers" else (user, other)
        assert await graph.follow(*pair) == FollowResult.CREATED

    listing = graph.followers if direction == "followers" else graph.following
    started = now_ms()
    for other in others[:6]:
        await connect(other)
    await next_millisecond()
    await connect(others[6])  # strictly the newest
    finished = now_ms()

    pages = await all_pages(lambda after: listing(user, first=3, after=after))
    edges = [edge for page in pages for edge in page.edges]
    assert [len(page.edges) for page in pages] == [3, 3, 1]
    assert [page.has_next for page in pages] == [True, True, False]
    assert edges[0].user_id == others[6]
    assert {edge.user_id for edge in edges} == set(others[:7])
    assert newest_first(edges)
    assert all(started <= edge.created_at_ms <= finished for edge in edges)

    # A keyset cursor is stable: a follow arriving mid-way is newer than it, so pages read
    # after it neither repeat nor skip an edge.
    first_page = await listing(user, first=3)
    await connect(others[7])
    rest = await all_pages(lambda after: listing(user, first=3, after=after or first_page.edges[-1].cursor))
    assert first_page.edges + [edge for page in rest for edge in page.edges] == edges

    whole = await listing(user, first=8)
    assert len(whole.edges) == 8 and not whole.has_next
    assert await listing(user, first=0) == Page(edges=[], has_next=True)
    with pytest.raises(ValueError):
        await listing(user, first=-1)


async def test_followees_newest_first(backend: Backend, graph: FollowGraph) -> None:
    user, b, c, d = await backend.users(4)
    for followee in (b, c, d):
        await graph.follow(user, followee)
        await next_millisecond()

    assert await graph.followees(user) == [d, c, b]
    assert await graph.followees(user, limit=2) == [d, c]
    assert await graph.followees(b) == []


async def test_mutes_only_hide_the_muted(backend: Backend, graph: FollowGraph) -> None:
    muter, loud, louder, bystander = await backend.users(4)
    await graph.follow(muter, loud)

    await graph.mute(muter, loud)
    await graph.mute(muter, loud)
    await graph.mute(muter, louder)
    assert await graph.muted_ids(muter) == {loud, louder}
    assert await graph.muted_ids(loud) == set()
    assert await graph.muted_ids(bystander) == set()
    assert await graph.which_followed(muter, [loud]) == {loud}  # still followed
    assert await graph.blocked_either_way(muter, [loud, louder]) == set()
    assert await graph.follow(loud, muter) == FollowResult.CREATED
    with pytest.raises(ValueError):
        await graph.mute(muter, muter)


async def test_suggestions_rank_two_hop_paths_excluding_self_followed_and_blocked(
    backend: Backend, graph: FollowGraph
) -> None:
    user, a, b, c, x, y, w, z, known, blocker, lonely = await backend.users(11)
    edges = [
        (user, a),
        (user, b),
        (user, c),
        (user, known),
        (a, x),
        (b, x),
        (c, x),  # x: 3 paths
        (a, y),
        (b, y),  # y: 2 paths
        (b, w),
        (c, w),  # w: 2 paths, after y by id
        (c, z),  # z: 1 path
        (a, user),  # the user themself
        (a, known),
        (b, known),  # already followed
        (a, blocker),
        (b, blocker),
        (c, blocker),  # blocks the user
    ]
    for follower, followee in edges:
        assert await graph.follow(follower, followee) == FollowResult.CREATED
    await graph.block(blocker, user)

    assert await graph.suggestions(user) == [Suggestion(x, 3), Suggestion(y, 2), Suggestion(w, 2), Suggestion(z, 1)]
    assert await graph.suggestions(user, limit=2) == [Suggestion(x, 3), Suggestion(y, 2)]
    assert await graph.suggestions(lonely) == []


async def test_big_snowflake_ids_round_trip(backend: Backend, graph: FollowGraph) -> None:
    big = (1 << 62) | new_id()
    bigger = (1 << 62) | new_id()
    await backend.register([big, bigger])

    assert await graph.follow(big, bigger) == FollowResult.CREATED
    assert [edge.user_id for edge in (await graph.followers(bigger, first=5)).edges] == [big]
    assert [edge.user_id for edge in (await graph.following(big, first=5)).edges] == [bigger]
    assert await graph.follow_counts([big, bigger]) == {big: (0, 1), bigger: (1, 0)}
    assert await graph.which_followed(big, [bigger, bigger + 1]) == {bigger}
    assert await graph.followees(big) == [bigger]
    await graph.mute(bigger, big)
    assert await graph.muted_ids(bigger) == {big}
    await graph.block(bigger, big)
    assert await graph.blocked_either_way(big, [bigger - 1, bigger]) == {bigger}
    assert await graph.relations(bigger, [big, big + 1]) == Relations(frozenset(), frozenset({big}), frozenset({big}))


async def test_concurrent_identical_follows_make_one_edge(backend: Backend, graph: FollowGraph) -> None:
    a, b = await backend.users(2)

    results = await asyncio.gather(*(graph.follow(a, b) for _ in range(20)))

    assert sorted(results) == sorted([FollowResult.CREATED] + [FollowResult.ALREADY] * 19)
    assert await graph.follow_counts([a, b]) == {a: (0, 1), b: (1, 0)}
    assert len((await graph.followers(b, first=20)).edges) == 1


async def test_a_follow_racing_a_block_never_survives_it(backend: Backend, graph: FollowGraph) -> None:
    pairs = [await backend.users(2) for _ in range(8)]

    await asyncio.gather(*(op for a, b in pairs for op in (graph.follow(a, b), graph.block(b, a))))

    for a, b in pairs:
        assert await graph.which_followed(a, [b]) == set()
        assert await graph.blocked_either_way(a, [b]) == {b}


async def test_ping(graph: FollowGraph) -> None:
    await graph.ping()


async def test_from_settings_picks_the_adapter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reels.db'}")
    sessions, reads = session_factory(engine), read_engine(engine)
    try:
        assert isinstance(from_settings(Settings(data_dir=tmp_path, neo4j_url=None), sessions, reads), SqlFollowGraph)
        bolt = from_settings(Settings(data_dir=tmp_path, neo4j_url="bolt://127.0.0.1:7687"), sessions, reads)
        assert isinstance(bolt, BoltFollowGraph)
        await bolt.close()
    finally:
        await engine.dispose()
