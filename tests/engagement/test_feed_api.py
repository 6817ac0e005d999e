"""The For You feed, trending and the following feed through the public API, as a new user meets
them: taste learned from watches and likes, follows, mutes, "not interested", anonymous sessions,
and a feed that never fails because the ranker did."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from starlette.testclient import TestClient

from reels.domain import events, feed_sessions
from reels.domain.events import FanOutReel, Topic
from reels.domain.feed_features import user_key
from reels.domain.feed_inbox import inbox_key
from reels.domain.feed_sessions import viewer_key
from reels.domain.keys import RANKER_CURRENT_KEY, ranker_artifact_key
from reels.domain.models import FeedImpression, Reel, ReelHashtag
from reels.domain.uploads import hashtag_ids
from reels.http.app import create_app
from reels.ranking import (
    Embeddings,
    EventTable,
    HeuristicScorer,
    MFConfig,
    RankerConfig,
    SimulatorConfig,
    TrainConfig,
    simulate,
    train_ranker,
)
from reels.settings import Settings
from reels.workers import feed as workers_feed
from tests.conftest import LOCAL_CLIENT, Api, db_id, insert_ready_reel, platform_of, run
from tests.engagement.conftest import FAST, eventually, unique

FEED = """query Feed($n: Int, $after: String, $context: FeedContext, $session: String) {
  feed(first: $n, after: $after, context: $context, sessionId: $session) {
    edges { cursor reason { source score } playback { renditions { width height } startupSegmentUrl }
            node { id creator { username } hashtags { name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
FOLLOWING = "query { followingFeed(first: 50) { edges { node { id } } } }"
TRENDING = "query T($region: String) { trending(region: $region, first: 50) { edges { cursor node { id } } } }"
VIEW = """mutation V($input: RecordViewInput!) { recordView(input: $input) { counted userErrors { code } } }"""
LIKE = "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { userErrors { code } } }"
FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { code } } }"
MUTE = "mutation M($id: ID!) { muteUser(input: {userId: $id}) { userErrors { code } } }"
DELETE = "mutation D($input: ReelInput!) { deleteReel(input: $input) { userErrors { code } } }"
NOPE = "mutation N($id: ID!) { notInterested(input: {reelId: $id}) { reel { id } userErrors { field code } } }"


@pytest.fixture
def api_embedded(embedded_settings: Settings) -> Iterator[Api]:
    """The embedded setup with its workers (aggregator, fan-out) and fast flushes."""
    with TestClient(
        create_app(embedded_settings.model_copy(update=FAST), run_workers=True), client=LOCAL_CLIENT
    ) as client:
        yield Api(client)


def feed(api: Api, token: str | None, n: int = 20, after: str | None = None, **variables: Any) -> dict[str, Any]:
    return api.data(FEED, {"n": n, "after": after, **variables}, token=token)["feed"]


def ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def tagged_reel(api: Api, creator_id: str, *tags: str, duration_ms: int = 10_000) -> str:
    """A READY reel whose caption's hashtags are linked, as an upload links them."""
    reel = insert_ready_reel(api, creator_id, caption=" ".join(f"#{tag}" for tag in tags), duration_ms=duration_ms)

    async def link() -> None:
        async with platform_of(api).sessions() as session:
            for hashtag_id in await hashtag_ids(session, list(tags)):
                session.add(ReelHashtag(reel_id=db_id(reel), hashtag_id=hashtag_id))
            await session.commit()

    run(api, link)
    return reel


def creators(api: Api, count: int) -> list[dict[str, Any]]:
    return [api.register(unique("creator"))[1] for _ in range(count)]


def test_a_viewer_gets_more_of_the_hashtag_they_finish_and_like(live_api: Api) -> None:
    api = live_api
    token, viewer = api.register(unique("viewer"))
    calm, loud = f"calm{uuid.uuid4().hex[:6]}", f"loud{uuid.uuid4().hex[:6]}"
    makers = creators(api, 8)
    reels = {tag: [tagged_reel(api, makers[n]["id"], tag) for n in range(8)] for tag in (calm, loud)}
    # Finishes and likes three calm reels; skips three loud ones within a second.
    for reel in reels[calm][:3]:
        assert api.data(VIEW, {"input": {"reelId": reel, "watchedMs": 10_000, "completed": True}}, token=token)
        assert api.data(LIKE, {"id": reel}, token=token)["likeReel"]["userErrors"] == []
    for reel in reels[loud][:3]:
        api.data(VIEW, {"input": {"reelId": reel, "watchedMs": 600, "completed": False}}, token=token)

    async def events_folded() -> float:
        (features,) = await platform_of(api).kv.hgetall_many([user_key(db_id(viewer["id"]))])
        return float(features.get("events", 0.0))

    eventually(lambda: run(api, events_folded) >= 6)

    page = feed(api, token, n=50)
    tags = {edge["node"]["id"]: {t["name"] for t in edge["node"]["hashtags"]} for edge in page["edges"]}
    unseen = [reel for reel in ids(page) if reel not in reels[calm][:3] + reels[loud][:3] and tags[reel] & {calm, loud}]
    first_six = [calm in tags[reel] for reel in unseen[:6]]
    assert sum(first_six) > len(first_six) - sum(first_six), (first_six, unseen)
    watched = set(reels[calm][:3] + reels[loud][:3])
    first_watched = min((i for i, reel in enumerate(ids(page)) if reel in watched), default=len(ids(page)))
    assert all(reel not in watched for reel in ids(page)[:first_watched]), "unwatched reels come before watched ones"
    assert first_watched >= 10


def test_a_followed_creators_new_reels_are_in_the_feed_and_exactly_them_in_following(live_api: Api) -> None:
    api = live_api
    token, _ = api.register(unique("fan"))
    star, other = creators(api, 2)
    older = insert_ready_reel(api, star["id"], caption="before the follow")
    insert_ready_reel(api, other["id"], caption="someone else")
    assert api.data(FOLLOWING, token=token)["followingFeed"]["edges"] == []  # active: the inbox is kept from now on
    assert api.data(FOLLOW, {"id": star["id"]}, token=token)["follow"]["userErrors"] == []
    new = [insert_ready_reel(api, star["id"], caption=f"new {n}") for n in range(3)]
    for reel in new:  # what turning READY queues (the test inserts READY reels directly)
        run(api, events.send, platform_of(api).queue, FanOutReel(db_id(reel)))

    def following() -> list[str]:
        return [edge["node"]["id"] for edge in api.data(FOLLOWING, token=token)["followingFeed"]["edges"]]

    eventually(lambda: following() == list(reversed(new)) + [older])
    page = feed(api, token, n=50)
    reasons = {edge["node"]["id"]: edge["reason"]["source"] for edge in page["edges"]}
    assert all(reasons.get(reel) == "FOLLOWING" for reel in new), reasons


def test_pages_never_repeat_and_a_new_session_brings_new_reels_first(api_embedded: Api) -> None:
    api = api_embedded
    token, _ = api.register("scroller")
    makers = creators(api, 6)
    all_reels = {insert_ready_reel(api, makers[n % 6]["id"], caption=f"#t{n % 4}") for n in range(30)}
    seen: list[str] = []
    page = feed(api, token, n=7)
    seen += ids(page)
    cursors = 0
    while page["pageInfo"]["hasNextPage"] and cursors < 10:
        page = feed(api, token, n=7, after=page["pageInfo"]["endCursor"])
        seen += ids(page)
        cursors += 1
    assert len(seen) == len(set(seen)), "a page repeated a reel"
    assert set(seen) == all_reels
    # Pull to refresh after seeing everything: served reels come back rather than nothing.
    assert len(ids(feed(api, token, n=10))) == 10


def test_new_session_leaves_out_what_was_served(api_embedded: Api) -> None:
    api = api_embedded
    token, _ = api.register("refresher")
    makers = creators(api, 5)
    for n in range(20):
        insert_ready_reel(api, makers[n % 5]["id"], caption=f"#r{n % 3}")
    first = ids(feed(api, token, n=8))
    second = ids(feed(api, token, n=8))
    assert not set(first) & set(second)


def test_a_muted_creator_disappears_at_once(live_api: Api) -> None:
    api = live_api
    token, _ = api.register(unique("muter"))
    loud, quiet = creators(api, 2)
    loud_reels = {insert_ready_reel(api, loud["id"], caption=f"#a{n}") for n in range(6)}
    for n in range(6):
        insert_ready_reel(api, quiet["id"], caption=f"#b{n}")
    page = feed(api, token, n=2)
    assert api.data(MUTE, {"id": loud["id"]}, token=token)["muteUser"]["userErrors"] == []
    rest = feed(api, token, n=50, after=page["pageInfo"]["endCursor"])
    assert not set(ids(rest)) & loud_reels
    assert not set(ids(feed(api, token, n=50))) & loud_reels


def test_a_page_is_full_when_many_of_its_reels_were_hidden_since_the_list_was_built(api_embedded: Api) -> None:
    """A page reads a couple of reels more than it shows; when more of them than that were
    hidden (deleted) since the list was built, it reads on until it is full. (On a database of
    its own: every reel of the list is the maker's to delete.)"""
    api = api_embedded
    token, _ = api.register("picky")
    maker_token, maker = api.register("maker")
    for n in range(20):
        insert_ready_reel(api, maker["id"], caption=f"#h{n}")
    after = feed(api, token, n=2)["pageInfo"]["endCursor"]
    coming = ids(feed(api, token, n=6, after=after))  # the list's next six, as they stand
    for reel_id in coming[:4]:
        assert api.data(DELETE, {"input": {"reelId": reel_id}}, token=maker_token)["deleteReel"]["userErrors"] == []
    again = ids(feed(api, token, n=6, after=after))
    assert len(again) == 6 and not set(again) & set(coming[:4])


def test_not_interested_removes_the_reel_and_demotes_its_creator(api_embedded: Api) -> None:
    api = api_embedded
    token, _ = api.register("picky")
    bore, fun = creators(api, 2)
    bore_reels = [insert_ready_reel(api, bore["id"], caption=f"#x{n}") for n in range(5)]
    fun_reels = [insert_ready_reel(api, fun["id"], caption=f"#y{n}") for n in range(5)]
    payload = api.data(NOPE, {"id": bore_reels[0]}, token=token)["notInterested"]
    assert payload == {"reel": {"id": bore_reels[0]}, "userErrors": []}
    page = ids(feed(api, token, n=50))
    assert bore_reels[0] not in page
    position = {reel: page.index(reel) for reel in page}
    assert max(position[r] for r in fun_reels) < min(position[r] for r in bore_reels[1:]), page


def test_not_interested_refusals(api_embedded: Api) -> None:
    api = api_embedded
    token, maker = api.register("maker")
    reel = insert_ready_reel(api, maker["id"])
    anonymous = api.data(NOPE, {"id": reel})["notInterested"]
    assert anonymous["reel"] is None and [e["code"] for e in anonymous["userErrors"]] == ["UNAUTHENTICATED"]
    missing = api.data(NOPE, {"id": "UmVlbDox"}, token=token)["notInterested"]
    assert missing["userErrors"] == [{"field": ["input", "reelId"], "code": "NOT_FOUND"}]


def test_the_anonymous_feed_and_trending_are_never_empty(api_embedded: Api) -> None:
    api = api_embedded
    maker = creators(api, 1)[0]
    reels = {insert_ready_reel(api, maker["id"], caption=f"#z{n}") for n in range(12)}
    assert set(ids(feed(api, None, n=12))) == reels
    trending = api.data(TRENDING)["trending"]["edges"]
    assert {edge["node"]["id"] for edge in trending} == reels
    # A session id keeps an anonymous client's sessions apart: the next one starts with new reels.
    first = ids(feed(api, None, n=6, session="device-1"))
    assert not set(first) & set(ids(feed(api, None, n=6, session="device-1")))
    body = api(FEED, {"n": 3, "session": "bad\x00id"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID"


def test_trending_is_regional_and_follows_completed_views(api_embedded: Api) -> None:
    api = api_embedded
    india = api.data(
        'mutation { register(input: {username: "mumbai", password: "correct horse battery", region: "in"}) '
        "{ user { id region } userErrors { code } } }"
    )["register"]["user"]
    assert india["region"] == "IN"
    elsewhere = creators(api, 1)[0]
    hit = insert_ready_reel(api, india["id"], caption="#hit")
    quiet = insert_ready_reel(api, india["id"], caption="#quiet")
    newer = insert_ready_reel(api, elsewhere["id"], caption="#newer")
    for n in range(6):
        watcher, _ = api.register(f"watcher{n}")
        api.data(VIEW, {"input": {"reelId": hit, "watchedMs": 10_000, "completed": True}}, token=watcher)

    def regional() -> list[str]:
        return [edge["node"]["id"] for edge in api.data(TRENDING, {"region": "IN"})["trending"]["edges"]]

    eventually(lambda: regional()[0] == hit)
    assert set(regional()) == {hit, quiet, newer}  # then the newest: never empty
    anonymous = feed(api, None, context={"region": "IN"})["edges"]
    assert (anonymous[0]["node"]["id"], anonymous[0]["reason"]["source"]) == (hit, "TRENDING")
    assert {edge["reason"]["source"] for edge in anonymous[1:]} == {"FRESH"}
    assert api(TRENDING, {"region": "India"})["errors"][0]["extensions"]["code"] == "INVALID"


def test_a_feed_edge_plays_what_the_device_can(api_embedded: Api) -> None:
    api = api_embedded
    maker = creators(api, 1)[0]
    reel = insert_ready_reel(api, maker["id"])
    ladder = [(240, 426, 300_000), (480, 854, 1_000_000), (720, 1280, 3_000_000)]

    async def give_ladder() -> None:
        async with platform_of(api).sessions() as session:
            row = await session.get(Reel, db_id(reel))
            assert row is not None and row.media is not None
            row.media = {
                **row.media,
                "renditions": [
                    {"width": w, "height": h, "bandwidth": b, "playlist": f"reels/test/hls/v{i}/index.m3u8"}
                    for i, (w, h, b) in enumerate(ladder)
                ],
            }
            await session.commit()

    run(api, give_ladder)
    low = feed(api, None, context={"device": "LOW"})["edges"][0]["playback"]
    assert [r["width"] for r in low["renditions"]] == [240, 480]
    assert low["startupSegmentUrl"]
    high = feed(api, None, context={"device": "HIGH"})["edges"][0]["playback"]
    assert [r["width"] for r in high["renditions"]] == [240, 480, 720]
    assert api(FEED, {"context": {"region": "nowhere"}})["errors"][0]["extensions"]["code"] == "INVALID"


class Broken(HeuristicScorer):
    def score(self, features: Any) -> Any:
        raise RuntimeError("the model fell over")


class Slow(HeuristicScorer):
    def score(self, features: Any) -> Any:
        time.sleep(1.0)  # a model far over the budget (the test waits for nothing: the feed gives up on it)
        return super().score(features)


def fallbacks(client: TestClient, reason: str) -> float:
    line = f'reels_feed_fallbacks_total{{reason="{reason}"}} '
    found = [row for row in client.get("/metrics").text.splitlines() if row.startswith(line)]
    return float(found[0].removeprefix(line)) if found else 0.0


@pytest.mark.parametrize(("failure", "scorer"), [("error", Broken), ("timeout", Slow)])
def test_when_ranking_fails_the_feed_comes_from_trending(
    embedded_settings: Settings, failure: str, scorer: type[HeuristicScorer]
) -> None:
    with TestClient(
        create_app(embedded_settings.model_copy(update={"feed_score_budget_ms": 50})), client=LOCAL_CLIENT
    ) as client:
        before = fallbacks(client, failure)
        api = Api(client)
        ranker = platform_of(api).feed_ranker
        ranker._loaded = replace(ranker.loaded, scorer=scorer())
        token, maker = api.register("unlucky")
        reels = {insert_ready_reel(api, maker["id"], caption=f"#f{n}") for n in range(5)}
        page = feed(api, token)
        assert set(ids(page)) == reels
        assert {edge["reason"]["source"] for edge in page["edges"]} == {"FRESH"}
        assert fallbacks(client, failure) == before + 1


def test_metrics_say_the_heuristic_serves_before_any_model_is_published(api_embedded: Api) -> None:
    assert 'reels_feed_ranker_info{scorer="heuristic",version=""} 1.0' in api_embedded.client.get("/metrics").text


def test_impressions_are_stored_for_training(api_embedded: Api) -> None:
    api = api_embedded
    token, viewer = api.register("trainee")
    maker = creators(api, 1)[0]
    for n in range(4):
        insert_ready_reel(api, maker["id"], caption=f"#i{n}")
    page = feed(api, token, n=3)

    async def stored() -> list[tuple[int, int, str]]:
        async with platform_of(api).sessions() as session:
            rows = await session.execute(
                select(FeedImpression.reel_id, FeedImpression.position, FeedImpression.source).where(
                    FeedImpression.viewer_id == db_id(viewer["id"])
                )
            )
            return sorted((reel, position, source) for reel, position, source in rows.all())

    expected = sorted((db_id(edge["node"]["id"]), n, edge["reason"]["source"]) for n, edge in enumerate(page["edges"]))
    eventually(lambda: run(api, stored) == expected)


def test_the_feed_region_becomes_the_viewers_when_they_have_none(api_embedded: Api) -> None:
    api = api_embedded
    token, _ = api.register("traveller")
    feed(api, token, context={"region": "br"})
    feed(api, token, context={"region": "PT"})
    assert api.data("query { viewer { region } }", token=token)["viewer"]["region"] == "BR"
    body = api.data(
        'mutation { register(input: {username: "nowhere", password: "correct horse battery", region: "ZZZ"}) '
        "{ user { id } userErrors { field code } } }"
    )["register"]
    assert body == {"user": None, "userErrors": [{"field": ["input", "region"], "code": "INVALID"}]}


def test_a_published_model_serves_without_a_restart(embedded_settings: Settings) -> None:
    """`reels train` publishes a version's artifacts, then the pointer; the API picks it up."""
    trained = train_ranker(
        EventTable.build(*_tiny_world()), RankerConfig(train=TrainConfig(rounds=3), mf=MFConfig(iterations=2))
    )
    with TestClient(
        create_app(embedded_settings.model_copy(update={"ranker_reload_s": 0.05, **FAST})), client=LOCAL_CLIENT
    ) as client:
        api = Api(client)
        token, viewer = api.register("early")
        maker = creators(api, 1)[0]
        reels = [insert_ready_reel(api, maker["id"], caption=f"#m{n}") for n in range(4)]
        assert 'scorer="heuristic"' in client.get("/metrics").text
        # Embeddings that put the viewer nearest the last reel.
        vectors = np.eye(4, dtype=np.float32)
        embeddings = Embeddings(
            user_ids=[str(db_id(viewer["id"]))],
            item_ids=[str(db_id(reel)) for reel in reels],
            user_vectors=vectors[3:4],
            item_vectors=vectors,
        )
        store = platform_of(api).store

        async def publish() -> None:
            await store.put_bytes(ranker_artifact_key("v1", "ranker.zip"), trained.model.to_bytes())
            await store.put_bytes(ranker_artifact_key("v1", "embeddings.npz"), embeddings.to_bytes())
            await store.put_bytes(RANKER_CURRENT_KEY, b"v1")

        run(api, publish)
        eventually(lambda: 'reels_feed_ranker_info{scorer="learned",version="v1"} 1.0' in _served_metrics(api, token))
        page = feed(api, token)
        reasons = {edge["node"]["id"]: edge["reason"]["source"] for edge in page["edges"]}
        assert reasons[reels[3]] == "SIMILAR", reasons
        # A viewer the model has never seen gets similar reels once they have watched one it knows.
        newcomer, newcomer_user = api.register("newcomer")
        assert "SIMILAR" not in {edge["reason"]["source"] for edge in feed(api, newcomer)["edges"]}
        api.data(VIEW, {"input": {"reelId": reels[0], "watchedMs": 4000, "completed": False}}, token=newcomer)

        async def watched() -> bool:
            found = await platform_of(api).kv.zrange_desc(f"feed:watched:u{db_id(newcomer_user['id'])}", 0, -1)
            return bool(found)

        eventually(lambda: run(api, watched))
        assert "SIMILAR" in {edge["reason"]["source"] for edge in feed(api, newcomer)["edges"]}


def _served_metrics(api: Api, token: str) -> str:
    feed(api, token, n=1)  # a new session re-reads the pointer when it is due
    return api.client.get("/metrics").text


def _tiny_world() -> tuple[Any, Any, Any]:
    log = simulate(SimulatorConfig(users=40, reels=60, days=3, seed=3))
    return log.events, log.items, log.follows


def test_celebrities_are_merged_at_read_and_an_unfollow_takes_reels_out(embedded_settings: Settings) -> None:
    """Above REELS_CELEBRITY_FOLLOWERS a creator is not fanned out: followers read the creator's own
    recent list. An unfollow takes a creator's reels out of the following feed at once."""
    settings = embedded_settings.model_copy(update={**FAST, "celebrity_followers": 1})
    with TestClient(create_app(settings, run_workers=True), client=LOCAL_CLIENT) as client:
        api = Api(client)
        token, me = api.register("fan")
        other_fan, _ = api.register("another_fan")
        star, friend = creators(api, 2)
        api.data(FOLLOWING, token=token)
        for creator in (star, friend):
            assert api.data(FOLLOW, {"id": creator["id"]}, token=token)["follow"]["userErrors"] == []
        assert api.data(FOLLOW, {"id": star["id"]}, token=other_fan)["follow"]["userErrors"] == []  # 2 > 1: a star

        async def inbox() -> set[int]:
            members = await platform_of(api).kv.zrange_desc(inbox_key(db_id(me["id"])), 0, -1)
            return {int(member.split(":")[0]) for member, _ in members}

        star_reel = insert_ready_reel(api, star["id"], caption="for everyone")
        friend_reel = insert_ready_reel(api, friend["id"], caption="for a few")
        for reel in (star_reel, friend_reel):
            run(api, events.send, platform_of(api).queue, FanOutReel(db_id(reel)))

        def following() -> list[str]:
            return [edge["node"]["id"] for edge in api.data(FOLLOWING, token=token)["followingFeed"]["edges"]]

        eventually(lambda: following() == [friend_reel, star_reel])
        assert run(api, inbox) == {db_id(friend_reel)}  # the star's reel was merged in, not pushed
        unfollow = "mutation U($id: ID!) { unfollow(input: {userId: $id}) { userErrors { code } } }"
        assert api.data(unfollow, {"id": friend["id"]}, token=token)["unfollow"]["userErrors"] == []
        assert following() == [star_reel]


def test_a_reported_reel_sinks(api_embedded: Api) -> None:
    api = api_embedded
    token, _ = api.register("judge")
    reporter, _ = api.register("reporter")
    makers = creators(api, 3)
    reels = [insert_ready_reel(api, makers[n % 3]["id"], caption=f"#p{n}") for n in range(6)]
    report = "mutation R($id: ID!) { reportReel(input: {reelId: $id, reason: SPAM}) { userErrors { code } } }"
    assert api.data(report, {"id": reels[2]}, token=reporter)["reportReel"]["userErrors"] == []
    assert ids(feed(api, token, n=6))[-1] == reels[2]


def test_the_next_list_is_built_by_a_worker_and_the_next_page_reads_it(embedded_settings: Settings) -> None:
    """A page within ten reels of its list's end queues the next list for a worker (the `feed`
    topic); the API process ranks nothing more itself, and the pages go on from the worker's list
    without repeating a reel. No other list is queued while one is built or waits."""
    settings = embedded_settings.model_copy(update={**FAST, "feed_list_size": 20})
    with TestClient(create_app(settings, run_workers=False), client=LOCAL_CLIENT) as client:
        api = Api(client)
        platform = platform_of(api)
        token, me = api.register("binge")
        makers = creators(api, 5)
        for n in range(60):
            insert_ready_reel(api, makers[n % 5]["id"], caption=f"#b{n % 4}")
        owner = viewer_key(db_id(me["id"]), None)
        built = REGISTRY.get_sample_value("reels_feed_build_seconds_count") or 0.0

        first = feed(api, token, n=12)  # a new session: its list built here; 8 of 20 left
        assert REGISTRY.get_sample_value("reels_feed_build_seconds_count") == built + 1

        def queued() -> list[Any]:
            return run(api, lambda: platform.queue.consume(Topic.FEED, workers_feed.GROUP, "test", block_ms=100))

        [job] = eventually(queued)
        assert not run(api, feed_sessions.has_ahead, platform.kv, owner)
        run(api, workers_feed.handle, platform, job.payload)  # what `reels worker` does with it
        assert run(api, feed_sessions.has_ahead, platform.kv, owner)
        assert not run(api, feed_sessions.claim_next_list, platform.kv, owner, 30.0)  # none while one waits
        assert REGISTRY.get_sample_value("reels_feed_build_seconds_count") == built + 2

        second = feed(api, token, n=12, after=first["pageInfo"]["endCursor"])  # 8 left, then the worker's list
        assert len(ids(second)) == 12 and not set(ids(first)) & set(ids(second))
        assert not run(api, feed_sessions.has_ahead, platform.kv, owner)  # taken
        assert run(api, feed_sessions.claim_next_list, platform.kv, owner, 30.0)  # and its claim with it
        assert REGISTRY.get_sample_value("reels_feed_build_seconds_count") == built + 2  # nothing ranked here
