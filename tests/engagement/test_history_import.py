"""Past engagement imported in bulk (the demo's history), on the embedded setup and on Redis +
PostgreSQL: the same counts, rows and stored watches as live engagement, dated in the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from reels.domain import history
from reels.domain.models import WatchEvent
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.engagement.conftest import eventually, unique

REEL = """query R($id: ID!) { reel(id: $id) {
  viewerHasLiked counts { likes views comments } comments(first: 5) { edges { node { text createdAt } } } } }"""


def test_imported_history_is_counted_stored_and_dated(live_api: Api) -> None:
    api = live_api
    _, creator = api.register(unique("creator"))
    token, viewer = api.register(unique("viewer"))
    _, other = api.register(unique("other"))
    reel = insert_ready_reel(api, creator["id"], duration_ms=10_000)
    reel_id, viewer_id, other_id = db_id(reel), db_id(viewer["id"]), db_id(other["id"])
    then = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    context = {"feed": "trending", "position": 2}

    async def import_() -> None:
        platform = platform_of(api)
        await history.import_engagement(
            platform.sessions,
            platform.queue,
            platform.pubsub,
            watches=[
                history.PastWatch(reel_id, viewer_id, 12_000, True, context, then),
                history.PastWatch(reel_id, other_id, 1_500, False, context, then + timedelta(hours=1)),
            ],
            likes=[history.PastLike(reel_id, viewer_id, then)],
            comments=[history.PastComment(reel_id, viewer_id, "loved it", then)],
        )

    run(api, import_)
    run(api, import_)  # again: the like is not counted twice

    def counted() -> bool:
        return api.data(REEL, {"id": reel})["reel"]["counts"] == {"likes": 1, "views": 2, "comments": 2}

    eventually(counted)  # a skip under 3 s is no view
    seen = api.data(REEL, {"id": reel}, token=token)["reel"]
    assert seen["viewerHasLiked"] is True
    assert {edge["node"]["createdAt"] for edge in seen["comments"]["edges"]} == {"2026-01-02T03:04:05Z"}

    async def stored() -> list[tuple[int | None, int, bool, bool, datetime]]:
        async with platform_of(api).sessions() as session:
            rows = await session.execute(
                select(
                    WatchEvent.viewer_id,
                    WatchEvent.watched_ms,
                    WatchEvent.completed,
                    WatchEvent.counted,
                    WatchEvent.created_at,
                ).where(WatchEvent.reel_id == reel_id)
            )
            # SQLite hands back naive UTC times.
            return sorted(
                (v, ms, done, c, at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC))
                for v, ms, done, c, at in rows
            )

    assert run(api, stored) == [
        (viewer_id, 12_000, True, True, then),
        (viewer_id, 12_000, True, True, then),
        (other_id, 1_500, False, False, then + timedelta(hours=1)),
        (other_id, 1_500, False, False, then + timedelta(hours=1)),
    ]
