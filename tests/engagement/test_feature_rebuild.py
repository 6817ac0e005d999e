"""`reels features rebuild`: the feature store and the trending sets rebuilt from the stored history
come out as the aggregator kept them live; a store that has counters is refused unless replaced,
and replacing gives the same again, keeping the "not interested" counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient
from typer.testing import CliRunner

from reels.cli import app
from reels.domain import feed_backfill, feed_trending
from reels.domain.feed_features import DAY_S, GLOBAL_KEY, creator_key, popularity_at, reel_key, user_key
from reels.domain.models import Like, WatchEvent
from reels.http.app import create_app
from reels.migrate import upgrade
from reels.ports.kv import KeyValue, MemoryKeyValue, RedisKeyValue
from reels.ranking.features import POPULARITY_HALF_LIVES_S
from reels.settings import Settings
from tests.conftest import LOCAL_CLIENT, Api, db_id, platform_of, run
from tests.engagement.conftest import FAST, eventually, unique
from tests.engagement.test_feed_api import LIKE, NOPE, VIEW, feed, tagged_reel
from tests.services.redis import running_redis

runner = CliRunner()
REGISTER_IN = """mutation R($name: String!) {
  register(input: {username: $name, password: "correct horse battery", region: "in"}) { user { id } userErrors { code } }
}"""
HALF_LIFE_S = Settings().trending_half_life_s


@pytest.fixture(params=["embedded", "services"])
def own_settings(request: pytest.FixtureRequest, embedded_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The embedded setup, or a PostgreSQL database and a Redis of this test's own: a rebuild
    reads every stored event, and the store is compared whole."""
    if request.param == "embedded":
        yield embedded_settings.model_copy(update=FAST)
        return
    database_url = request.getfixturevalue("fresh_postgres_url")
    with running_redis() as (_, redis_url):
        settings = Settings(
            data_dir=tmp_path / "services", database_url=database_url, redis_url=redis_url, secret_key="s" * 40, **FAST
        )
        upgrade(settings.resolved_database_url)
        yield settings


@dataclass
class History:
    """What a few viewers did through the API, and the feature keys and trending sets it touched."""

    reels: dict[str, str] = field(default_factory=dict)  # name -> global id
    creators: dict[str, str] = field(default_factory=dict)  # reel name -> its creator's global id
    viewers: list[tuple[str, str]] = field(default_factory=list)  # (token, global id)
    views: int = 0
    likes: int = 0
    served: int = 0

    def keys(self) -> list[str]:
        users = {db_id(user) for _, user in self.viewers} | {db_id(creator) for creator in self.creators.values()}
        return (
            [reel_key(db_id(reel)) for reel in self.reels.values()]
            + [user_key(user) for user in sorted(users)]
            + [creator_key(db_id(creator)) for creator in sorted(set(self.creators.values()))]
            + [GLOBAL_KEY]
        )


TRENDING_SETS = [feed_trending.key(None), feed_trending.key("IN")]


def make_history(api: Api) -> History:
    """Watches (finished, skipped, repeated, anonymous), likes and a served feed page; two reels
    get the interactions trending needs, one of them from a creator in India."""
    history = History()
    india = api.data(REGISTER_IN, {"name": unique("mumbai")})["register"]["user"]["id"]
    elsewhere = api.register(unique("creator"))[1]["id"]
    for name, creator, tags in [
        ("hit", india, ["dance"]),
        ("calm", india, ["calm"]),
        ("other", elsewhere, ["dance", "zz"]),
        ("plain", elsewhere, []),
    ]:
        history.reels[name] = tagged_reel(api, creator, *tags)
        history.creators[name] = creator
    history.viewers = [(token, user["id"]) for token, user in (api.register(unique("viewer")) for _ in range(3))]

    def view(reel: str, watched_ms: int, token: str | None = None, session: str | None = None) -> None:
        watch = {"reelId": history.reels[reel], "watchedMs": watched_ms, "completed": watched_ms >= 10_000}
        api.data(VIEW, {"input": watch | ({"sessionId": session} if session else {})}, token=token)
        history.views += 1

    for token, _ in history.viewers:
        view("hit", 10_000, token)
        view("calm", 600, token)  # a skip: not counted as a view, folded all the same
        view("other", 4_000, token)
    first = history.viewers[0][0]
    view("hit", 12_000, first)  # again within the view window: not counted
    view("other", 7_000, first)
    view("hit", 10_000, session="device-a")
    view("other", 3_000, session="device-a")
    view("plain", 2_000, session="device-a")
    for token, reel in [(first, "hit"), (history.viewers[1][0], "hit"), (history.viewers[2][0], "calm")]:
        assert api.data(LIKE, {"id": history.reels[reel]}, token=token)["likeReel"]["userErrors"] == []
        history.likes += 1
    history.served = len(feed(api, history.viewers[1][0], n=4)["edges"])
    return history


async def snapshot(kv: KeyValue, history: History) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Every feature hash the history touched, and the trending sets."""
    keys = history.keys()
    hashes = dict(zip(keys, await kv.hgetall_many(keys), strict=True))
    sets = {name: dict(await kv.zrange_desc(name, 0, -1)) for name in TRENDING_SETS}
    return hashes, sets


def wait_folded(api: Api, history: History) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """The live store once the aggregator has folded every watch, like and served page."""

    def folded() -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]] | None:
        hashes, sets = run(api, snapshot, platform_of(api).kv, history)
        overall = hashes[GLOBAL_KEY]
        shown = sum(hashes[reel_key(db_id(reel))].get("shown", 0.0) for reel in history.reels.values())
        done = (overall.get("events"), overall.get("liked"), shown) == (history.views, history.likes, history.served)
        return (hashes, sets) if done else None

    return eventually(folded)


def assert_same(rebuilt: dict[str, dict[str, float]], live: dict[str, dict[str, float]]) -> None:
    """Counters equal (up to the order floats were summed in); decayed popularity and trending
    equal as of now within 1% (the live folds were as of each flush, the rebuild's as of its
    batch's last event)."""
    now = time.time()
    assert rebuilt.keys() == live.keys()
    for key, hash_ in live.items():
        assert rebuilt[key].keys() == hash_.keys(), key
        for name, value in hash_.items():
            if not name.startswith(("pop_", "trend_")):
                assert rebuilt[key][name] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, name)
        for name in POPULARITY_HALF_LIVES_S:
            assert popularity_at(rebuilt[key], name, now) == pytest.approx(popularity_at(hash_, name, now), rel=1e-2)
        trending = [
            feed_trending.value(feed_trending.log_score(h, HALF_LIFE_S), now, HALF_LIFE_S)
            for h in (rebuilt[key], hash_)
        ]
        assert trending[0] == pytest.approx(trending[1], rel=1e-2), key


def assert_same_trending(rebuilt: dict[str, dict[str, float]], live: dict[str, dict[str, float]]) -> None:
    now = time.time()
    for name, members in live.items():
        assert members, f"{name} is empty: the history should put reels in it"
        assert rebuilt[name].keys() == members.keys(), name
        for member, stored in members.items():
            value = feed_trending.value(rebuilt[name][member], now, HALF_LIFE_S)
            assert value == pytest.approx(feed_trending.value(stored, now, HALF_LIFE_S), rel=1e-2), (name, member)


def test_a_rebuild_gives_back_the_features_the_aggregator_kept(own_settings: Settings) -> None:
    with TestClient(create_app(own_settings, run_workers=True), client=LOCAL_CLIENT) as client:
        api = Api(client)
        platform = platform_of(api)
        history = make_history(api)
        live, live_trending = wait_folded(api, history)
        assert live_trending[feed_trending.key("IN")].keys() == {str(db_id(history.reels["hit"]))}

        async def rebuild(replace: bool = False) -> feed_backfill.Rebuilt:
            return await feed_backfill.rebuild(platform.sessions, platform.kv, own_settings, replace=replace)

        async def wipe() -> None:  # the store lost, as a Redis without persistence restarted
            await platform.kv.delete(*history.keys(), *TRENDING_SETS)

        run(api, wipe)
        rebuilt = run(api, rebuild)
        assert (rebuilt.watches, rebuilt.likes) == (history.views, history.likes)
        hashes, trending = run(api, snapshot, platform.kv, history)
        assert_same(hashes, live)
        assert_same_trending(trending, live_trending)

        with pytest.raises(feed_backfill.StoreNotEmptyError, match="would count events twice"):
            run(api, rebuild)

        # A "not interested" mark is only in the store: replacing keeps it.
        viewer_token, viewer = history.viewers[0]
        assert api.data(NOPE, {"id": history.reels["calm"]}, token=viewer_token)["notInterested"]["userErrors"] == []
        run(api, rebuild, True)
        hashes, trending = run(api, snapshot, platform.kv, history)
        calm, india = db_id(history.reels["calm"]), db_id(history.creators["calm"])
        marks = {reel_key(calm): "nope", creator_key(india): "nope", user_key(db_id(viewer)): f"c:{india}:n"}
        for key, name in marks.items():
            assert hashes[key].pop(name) == 1.0, (key, name)
        assert_same(hashes, live)
        assert_same_trending(trending, live_trending)


@pytest.mark.parametrize("own_settings", ["services"], indirect=True)
def test_the_command_refills_a_redis_that_lost_the_store(own_settings: Settings) -> None:
    with TestClient(create_app(own_settings, run_workers=True), client=LOCAL_CLIENT) as client:
        api = Api(client)
        history = make_history(api)
        live, live_trending = wait_folded(api, history)
    assert own_settings.redis_url
    redis.Redis.from_url(own_settings.redis_url).flushall()  # the workers stopped; Redis restarted empty
    environment = {
        "REELS_DATA_DIR": str(own_settings.data_dir),
        "REELS_DATABASE_URL": own_settings.database_url,
        "REELS_REDIS_URL": own_settings.redis_url,
        "REELS_SECRET_KEY": own_settings.secret_key or "",
    }

    async def stored() -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
        kv = RedisKeyValue.from_url(own_settings.redis_url or "")
        try:
            return await snapshot(kv, history)
        finally:
            await kv.close()

    result = runner.invoke(app, ["features", "rebuild"], env=environment)
    assert result.exit_code == 0, result.output
    assert f"from {history.views} watch events and {history.likes} likes" in result.stdout
    hashes, trending = asyncio.run(stored())
    assert_same(hashes, live)
    assert_same_trending(trending, live_trending)

    again = runner.invoke(app, ["features", "rebuild"], env=environment)
    assert again.exit_code == 1
    assert "the feature store is not empty" in again.stderr
    assert "run `reels features rebuild --replace`" in again.stderr

    replaced = runner.invoke(app, ["features", "rebuild", "--replace"], env=environment)
    assert replaced.exit_code == 0, replaced.output
    hashes, trending = asyncio.run(stored())
    assert_same(hashes, live)
    assert_same_trending(trending, live_trending)


def test_history_older_than_the_store_decays_as_if_it_had_arrived_live(embedded_settings: Settings) -> None:
    with TestClient(create_app(embedded_settings.model_copy(update=FAST)), client=LOCAL_CLIENT) as client:
        api = Api(client)
        platform = platform_of(api)
        creator = api.register(unique("creator"))[1]["id"]
        reel = db_id(tagged_reel(api, creator, "dance"))
        viewers = [db_id(api.register(unique("viewer"))[1]["id"]) for _ in range(6)]
        recent = time.time() - 60
        old = recent - 10 * DAY_S

        async def store_history() -> None:
            def watch(viewer: int, at: float) -> WatchEvent:
                moment = datetime.fromtimestamp(at, UTC)
                return WatchEvent(
                    reel_id=reel, viewer_id=viewer, watched_ms=10_000, completed=True, counted=True, created_at=moment
                )

            async with platform.sessions.begin() as session:
                session.add_all([watch(viewer, old) for viewer in viewers])
                session.add_all([watch(viewer, recent) for viewer in viewers[:4]])
                session.add(Like(reel_id=reel, user_id=viewers[0], created_at=datetime.fromtimestamp(old, UTC)))

        async def rebuild_into(kv: KeyValue) -> dict[str, float]:
            await feed_backfill.rebuild(platform.sessions, kv, embedded_settings)
            (hash_,) = await kv.hgetall_many([reel_key(reel)])
            return hash_

        run(api, store_history)
        features = run(api, rebuild_into, MemoryKeyValue())
    assert (features["events"], features["full"], features["liked"]) == (10, 10, 1)
    assert features["pop_t"] == pytest.approx(recent, abs=1e-3)
    # Ten days old, the six watches and the like weigh 2^-10 at a half-life of a day, 2^-1/3 at 30 days.
    assert features["pop_1d"] == pytest.approx(4 + 7 * 0.5**10)
    assert features["pop_30d"] == pytest.approx(4 + 7 * 0.5 ** (10 / 30))


def test_the_command_needs_the_shared_store(embedded_settings: Settings) -> None:
    result = runner.invoke(app, ["features", "rebuild"], env={"REELS_DATA_DIR": str(embedded_settings.data_dir)})
    assert result.exit_code == 2
    assert "set REELS_REDIS_URL" in result.stderr
