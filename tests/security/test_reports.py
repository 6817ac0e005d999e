"""Reports: one open report per reporter and reel (a repeat returns the open one), and a reel
reported by REELS_AUTO_HIDE_REPORTS distinct users is HELD for review until a moderator acts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from reels.domain.models import Role, User
from reels.http.app import create_app
from reels.settings import Settings
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run

REPORT = """mutation R($id: ID!, $reason: ReportReason!) {
  reportReel(input: {reelId: $id, reason: $reason}) { report { id reason status } userErrors { code } }
}"""
REPORTS = "query { reports(first: 50) { edges { node { id reel { id } reporter { username } } } } }"
REEL = "query R($id: ID!) { reel(id: $id) { id status statusReason } }"
MODERATE = """mutation M($id: ID!, $action: ModerationAction!) {
  moderateReel(input: {reelId: $id, action: $action, reason: "reviewed"}) { reel { status } userErrors { code } }
}"""
AUTO_HIDE = 3


@pytest.fixture
def api(embedded_settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(embedded_settings.model_copy(update={"auto_hide_reports": AUTO_HIDE}))) as client:
        yield Api(client)


def _moderator(api: Api) -> str:
    token, user = api.register("moderator")

    async def promote() -> None:
        async with platform_of(api).sessions.begin() as session:
            await session.execute(update(User).where(User.id == db_id(user["id"])).values(role=Role.MODERATOR))

    run(api, promote)
    return token


def _report(api: Api, token: str, reel_id: str, reason: str = "SPAM") -> dict:
    return api.data(REPORT, {"id": reel_id, "reason": reason}, token)["reportReel"]


def test_a_repeat_report_is_a_no_op_returning_the_open_one(api: Api) -> None:
    _, creator = api.register("creator")
    reporter, _ = api.register("reporter")
    moderator = _moderator(api)
    reel_id = insert_ready_reel(api, creator["id"])
    first = _report(api, reporter, reel_id)
    assert first["userErrors"] == []
    assert _report(api, reporter, reel_id) == first
    assert _report(api, reporter, reel_id, "HATE") == first  # another reason is still the same open report
    queued = api.data(REPORTS, {}, moderator)["reports"]["edges"]
    assert [edge["node"]["id"] for edge in queued] == [first["report"]["id"]]


def test_enough_distinct_reporters_hold_the_reel_until_a_moderator_restores_it(api: Api) -> None:
    _, creator = api.register("creator")
    moderator = _moderator(api)
    viewer, _ = api.register("viewer")
    reel_id = insert_ready_reel(api, creator["id"])
    reporters = [api.register(f"reporter{n}")[0] for n in range(AUTO_HIDE)]
    for token in reporters[:-1]:
        _report(api, token, reel_id)
        _report(api, token, reel_id)  # repeats do not count twice
    assert api.data(REEL, {"id": reel_id}, viewer)["reel"]["status"] == "READY"

    _report(api, reporters[-1], reel_id)
    assert api.data(REEL, {"id": reel_id}, viewer)["reel"] is None
    held = api.data(REEL, {"id": reel_id}, moderator)["reel"]
    assert held == {"id": reel_id, "status": "HELD", "statusReason": f"held for review: reported by {AUTO_HIDE} users"}

    queued = {edge["node"]["reel"]["id"] for edge in api.data(REPORTS, {}, moderator)["reports"]["edges"]}
    assert queued == {reel_id}
    restored = api.data(MODERATE, {"id": reel_id, "action": "RESTORE"}, moderator)["moderateReel"]
    assert restored == {"reel": {"status": "READY"}, "userErrors": []}
    assert api.data(REEL, {"id": reel_id}, viewer)["reel"]["status"] == "READY"
    assert api.data(REPORTS, {}, moderator)["reports"]["edges"] == []  # reviewed: the reports are settled


QUEUE = """query Q($reason: ReportReason, $after: String) {
  reports(first: 2, reason: $reason, after: $after) {
    edges { node { reason reelReportCount reel { id } } } pageInfo { hasNextPage endCursor }
  }
}"""


def _queue(api: Api, token: str, reason: str | None = None) -> list[tuple[str, str, int]]:
    """Every page of the open queue: (reel, reason, open reports of the reel) per report."""
    seen, after = [], None
    while True:
        page = api.data(QUEUE, {"reason": reason, "after": after}, token)["reports"]
        seen += [(e["node"]["reel"]["id"], e["node"]["reason"], e["node"]["reelReportCount"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


def test_the_queue_shows_held_reels_first_with_their_count_and_filters_by_reason(api: Api) -> None:
    _, creator = api.register("creator")
    moderator = _moderator(api)
    hidden, quiet = insert_ready_reel(api, creator["id"]), insert_ready_reel(api, creator["id"])
    reporters = [api.register(f"reporter{n}")[0] for n in range(AUTO_HIDE)]
    for token in reporters:
        _report(api, token, hidden, "HATE")
    _report(api, reporters[0], quiet, "SPAM")  # the newest report, but its reel is not held

    assert _queue(api, moderator) == [(hidden, "HATE", AUTO_HIDE)] * AUTO_HIDE + [(quiet, "SPAM", 1)]
    assert _queue(api, moderator, "SPAM") == [(quiet, "SPAM", 1)]
    assert _queue(api, moderator, "NUDITY") == []
