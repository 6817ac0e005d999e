"""`reels demo`'s seeding at a tiny size, end to end: the app answers while the seeding runs in
its background (as `reels demo` runs it), FFmpeg makes the clips, the real upload path and the
in-process workers take them to READY, the history becomes counts, the ranker is published;
a second run over the same data dir (a restart) reuses all of it."""

from __future__ import annotations

from starlette.testclient import TestClient

from reels.demo import DemoPlan, Seeded, make_plan, seed
from reels.demo.plan import PASSWORD
from reels.domain.keys import RANKER_CURRENT_KEY
from reels.http.app import create_app
from reels.platform import Platform
from reels.settings import Settings
from tests.conftest import Api, platform_of, run
from tests.services import wait_until

SEED_DEADLINE_S = 120.0

FEED = """{ feed(first: 20) { edges { node {
  status caption durationMs width height creator { username }
  playback { renditions { height } } counts { views likes comments } } } } }"""
PROFILE = """query ($name: String!) { user(username: $name) { region following(first: 20) { totalCount } } }"""
LOGIN = """mutation ($input: LoginInput!) { login(input: $input) { token user { role } userErrors { code } } }"""


class DemoApp:
    """The app with the demo's seeding as its background job, as `reels demo` serves it."""

    def __init__(self, settings: Settings, plan: DemoPlan) -> None:
        self.results: list[Seeded | Exception] = []

        async def seeding(platform: Platform) -> None:
            try:
                self.results.append(await seed(platform, plan))
            except Exception as error:  # noqa: BLE001 - handed to the test, which raises it
                self.results.append(error)

        self.client = TestClient(create_app(settings, background=[seeding]))

    def __enter__(self) -> Api:
        return Api(self.client.__enter__())

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    def finished(self) -> Seeded:
        wait_until(lambda: bool(self.results), SEED_DEADLINE_S, "the demo's seeding")
        if isinstance(result := self.results[0], Exception):
            raise result
        return result


def test_a_tiny_demo_seeds_to_ready_and_a_second_run_reuses_it(embedded_settings: Settings) -> None:
    plan = make_plan(reels=3, users=4, seconds=(2, 3))
    demo = DemoApp(embedded_settings, plan)
    with demo as api:
        api.data(FEED)  # answered at once, with whatever is READY: the seeding has only begun
        assert not demo.results
        done = demo.finished()
        assert done.ranker_version
        assert done == Seeded(
            users_created=6, reels_uploaded=3, history_stored=True, ranker_version=done.ranker_version, ready=3
        )
        check_platform(api, plan)
        seeded = api.data(FEED)

    demo = DemoApp(embedded_settings, plan)  # a second run, on the first one's data
    with demo as api:
        again = demo.finished()
        assert again == Seeded(ready=3) and not again.created_anything
        assert api.data(FEED) == seeded


def check_platform(api: Api, plan: DemoPlan) -> None:
    reels = [edge["node"] for edge in api.data(FEED)["feed"]["edges"]]
    assert sorted(reel["caption"] for reel in reels) == sorted(clip.caption for clip in plan.clips)
    by_caption = {clip.caption: clip for clip in plan.clips}
    for reel in reels:
        clip = by_caption[reel["caption"]]
        assert reel["status"] == "READY" and reel["creator"]["username"] == clip.creator
        assert (reel["width"], reel["height"]) == (clip.width, clip.height)
        assert abs(reel["durationMs"] - 1000 * clip.seconds) <= 100
        assert len(reel["playback"]["renditions"]) == 4  # 720×1280 sources: every rung, 240p–720p

    for user in plan.users:
        profile = api.data(PROFILE, {"name": user.username})["user"]
        assert profile["region"] == user.region
        assert profile["following"]["totalCount"] == sum(a == user.username for a, _ in plan.follows)
    login = api.data(LOGIN, {"input": {"username": plan.moderator, "password": PASSWORD}})["login"]
    assert login["userErrors"] == [] and login["user"]["role"] == "MODERATOR"

    # The history's counts come from the aggregator, which flushes every second.
    views = sum(watch.watched_ms >= 3000 or watch.completed for watch in plan.history)
    likes = sum(watch.liked for watch in plan.history)
    comments = sum(watch.comment is not None for watch in plan.history)
    assert views > 0

    def counted() -> bool:
        totals = [edge["node"]["counts"] for edge in api.data(FEED)["feed"]["edges"]]
        return [sum(c[name] for c in totals) for name in ("views", "likes", "comments")] == [views, likes, comments]

    wait_until(counted, 30, "the history's counts")

    async def pointer() -> list[str]:
        return await platform_of(api).store.list_keys(RANKER_CURRENT_KEY)

    assert run(api, pointer) == [RANKER_CURRENT_KEY]
