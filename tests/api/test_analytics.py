"""Analytics through the API: the scheduled jobs compute per-day tables (run now by
`reels jobs run NAME`, periodically by the embedded app), idempotently and resumably, and only
admins read them through `analytics`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from starlette.testclient import TestClient
from typer.testing import CliRunner

from reels import cli
from reels.domain.models import Audio, Hashtag, JobRun, Reel, ReelHashtag
from reels.http.app import create_app
from reels.settings import Settings
from reels.workers.jobs import JOBS, run_job
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run, staff_token
from tests.engagement.conftest import eventually
from tests.test_migrations import reels_cli

ANALYTICS = """query A($days: Int!) { analytics {
  dailyCounts(days: $days) { day newUsers newReels views watchSeconds likes comments reports }
  topCreators(days: $days) { creator { username } watchSeconds views }
  hashtagPopularity(days: $days) { hashtag { name } reels views }
  trendingSounds(days: $days) { audio { title } reels views }
  reportRates(days: $days) { reason reports reelsReported perThousandViews }
  jobs { name doneThrough lastRunAt } } }"""
VIEW = (
    "mutation V($id: ID!, $ms: Int!) { recordView(input: {reelId: $id, watchedMs: $ms, completed: false}) { counted } }"
)
LIKE = "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { userErrors { code } } }"
REPORT = "mutation P($id: ID!, $reason: ReportReason!) { reportReel(input: {reelId: $id, reason: $reason}) { userErrors { code } } }"
VIEWS = "query C($id: ID!) { reel(id: $id) { counts { views } } }"


def _tag_and_sound(api: Api, reel: str, creator: str) -> None:
    """The reel carries #summer and the sound "Sunny riff" (as processing would have left it)."""

    async def link() -> None:
        async with platform_of(api).sessions.begin() as session:
            tag, sound = Hashtag(name="summer"), Audio(title="Sunny riff", creator_id=db_id(creator))
            session.add_all([tag, sound])
            await session.flush()
            session.add(ReelHashtag(reel_id=db_id(reel), hashtag_id=tag.id))
            await session.execute(update(Reel).where(Reel.id == db_id(reel)).values(audio_id=sound.id))

    run(api, link)


def _run_all(api: Api) -> list[str]:
    return [run(api, run_job, platform_of(api), name) for name in JOBS if name != "engagement_scoring"]


def test_the_jobs_compute_each_days_analytics_for_admins_idempotently_and_resumably(
    api: Api, embedded_settings: Settings
) -> None:
    admin = staff_token(api, "the_admin", "ADMIN")
    _, summer = api.register("summer_creator")
    _, other = api.register("other_creator")
    hit, quiet = insert_ready_reel(api, summer["id"]), insert_ready_reel(api, other["id"])
    _tag_and_sound(api, hit, summer["id"])
    fans = [api.register(f"fan{n}")[0] for n in range(3)]
    for fan in fans:
        assert api.data(VIEW, {"id": hit, "ms": 5000}, token=fan)["recordView"]["counted"] is True
    assert api.data(VIEW, {"id": quiet, "ms": 4000}, token=fans[0])["recordView"]["counted"] is True
    for fan in fans[:2]:
        assert api.data(LIKE, {"id": hit}, token=fan)["likeReel"]["userErrors"] == []
        assert api.data(REPORT, {"id": quiet, "reason": "SPAM"}, token=fan)["reportReel"]["userErrors"] == []
    assert api.data(REPORT, {"id": hit, "reason": "NUDITY"}, token=fans[2])["reportReel"]["userErrors"] == []
    eventually(lambda: api.data(VIEWS, {"id": hit})["reel"]["counts"]["views"] == 3)  # the watches are stored
    eventually(lambda: api.data(VIEWS, {"id": quiet})["reel"]["counts"]["views"] == 1)

    assert _run_all(api) == [f"{name}: 30 days computed" for name in JOBS if name != "engagement_scoring"]
    today = datetime.now(UTC).date()
    answer = api.data(ANALYTICS, {"days": 1}, token=admin)["analytics"]
    assert answer["dailyCounts"] == [
        {
            "day": today.isoformat(),
            "newUsers": 6,
            "newReels": 2,
            "views": 4,
            "watchSeconds": 19.0,
            "likes": 2,
            "comments": 0,
            "reports": 3,
        }
    ]
    assert answer["topCreators"] == [
        {"creator": {"username": "summer_creator"}, "watchSeconds": 15.0, "views": 3},
        {"creator": {"username": "other_creator"}, "watchSeconds": 4.0, "views": 1},
    ]
    assert answer["hashtagPopularity"] == [{"hashtag": {"name": "summer"}, "reels": 1, "views": 3}]
    assert answer["trendingSounds"] == [{"audio": {"title": "Sunny riff"}, "reels": 1, "views": 3}]
    assert answer["reportRates"] == [
        {"reason": "SPAM", "reports": 2, "reelsReported": 1, "perThousandViews": 500.0},
        {"reason": "NUDITY", "reports": 1, "reelsReported": 1, "perThousandViews": 250.0},
    ]
    yesterday = (today - timedelta(days=1)).isoformat()
    assert {job["name"]: job["doneThrough"] for job in answer["jobs"] if job["name"] != "engagement_scoring"} == {
        name: yesterday for name in JOBS if name != "engagement_scoring"
    }

    # Again: the same tables (yesterday is redone for late arrivals, today as it stands).
    assert _run_all(api) == [f"{name}: 2 days computed" for name in JOBS if name != "engagement_scoring"]
    again = api.data(ANALYTICS, {"days": 1}, token=admin)["analytics"]
    assert {k: v for k, v in again.items() if k != "jobs"} == {k: v for k, v in answer.items() if k != "jobs"}

    # A job that stopped five days ago resumes there, from the command line too.
    async def stopped() -> None:
        async with platform_of(api).sessions.begin() as session:
            await session.execute(
                update(JobRun).where(JobRun.name == "daily_counts").values(done_through=today - timedelta(days=5))
            )

    run(api, stopped)
    env = {"REELS_DATA_DIR": str(Path(embedded_settings.data_dir).resolve())}
    resumed = reels_cli("jobs", "run", "daily_counts", env=env)
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "daily_counts: 6 days computed"), resumed.stderr
    unknown = CliRunner().invoke(cli.app, ["jobs", "run", "nonsense"])
    assert unknown.exit_code == 2 and "daily_counts" in unknown.stderr
    assert len(api.data(ANALYTICS, {"days": 30}, token=admin)["analytics"]["dailyCounts"]) == 30


def test_only_admins_read_analytics_and_periods_are_checked(api: Api) -> None:
    moderator = staff_token(api, "the_mod", "MODERATOR")
    admin = staff_token(api, "the_admin", "ADMIN")
    for token, code in ((moderator, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        refused = api(ANALYTICS, {"days": 7}, token=token)
        assert refused["data"] is None
        assert [e["extensions"]["code"] for e in refused["errors"]] == [code]
    for days in (0, -1, 367):
        bad = api("query B($d: Int!) { analytics { dailyCounts(days: $d) { day } } }", {"d": days}, token=admin)
        assert [e["extensions"]["code"] for e in bad["errors"]] == ["INVALID"]


def test_the_embedded_app_runs_every_job_on_its_schedule(embedded_settings: Settings) -> None:
    fast = {"analytics_interval_s": 0.2, "engagement_scoring_interval_s": 0.2}
    with TestClient(create_app(embedded_settings.model_copy(update=fast))) as client:
        api = Api(client)
        admin = staff_token(api, "the_admin", "ADMIN")

        def ran() -> Any:
            jobs = api.data(ANALYTICS, {"days": 1}, token=admin)["analytics"]["jobs"]
            return {job["name"] for job in jobs if job["lastRunAt"]} == set(JOBS)

        eventually(ran)
