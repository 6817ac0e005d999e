"""Fake engagement: a scripted burst of likes from new accounts is flagged by the scoring job
and discounted in `counts` while real likes stay; a moderator's clearing brings them back.
Runs on the embedded setup and on Redis + PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from reels.domain.integrity import BURST_MIN, IDENTICAL_WATCH_MIN, Engagement, suspicious
from reels.domain.models import User
from reels.workers.jobs import run_job
from tests.conftest import Api, db_id, platform_of, run, staff_token
from tests.engagement.conftest import eventually, unique
from tests.engagement.test_engagement_api import LIKE, counts, setup_reel

BOTS = 6
FLAG = "query F($name: String!) { user(username: $name) { engagementFlag { flaggedAt reason } } }"
CLEAR = """mutation C($input: ClearEngagementFlagInput!) {
  clearEngagementFlag(input: $input) { user { username engagementFlag { reason } } userErrors { field code message } } }"""
LOG = """{ moderationLog(first: 50) { edges { node { action check reason actor { username } user { username } } } } }"""


def _likes(api: Api, reel: str) -> int:
    return int(counts(api, reel)["counts"]["likes"])


def _live_likes(ws: Any) -> int:
    message = ws.receive_json()
    assert message["type"] == "next", message
    return int(message["payload"]["data"]["reelCounts"]["likes"])


def _age(api: Api, user_id: str, days: int) -> None:
    async def backdate() -> None:
        async with platform_of(api).sessions.begin() as session:
            joined = datetime.now(UTC) - timedelta(days=days)
            await session.execute(update(User).where(User.id == db_id(user_id)).values(created_at=joined))

    run(api, backdate)


def _score(api: Api) -> str:
    return str(run(api, run_job, platform_of(api), "engagement_scoring"))


def test_a_scripted_burst_of_likes_from_new_accounts_is_discounted_and_clearing_restores(live_api: Api) -> None:
    api = live_api
    creator_token, creator, first = setup_reel(api)
    second = setup_reel(api)[2]
    fan_token, fan = api.register(unique("fan"))  # a new account that likes one of the reels
    regular_token, regular = api.register(unique("regular"))  # an old account that likes both
    _age(api, regular["id"], days=400)
    bots = [api.register(unique("bot")) for _ in range(BOTS)]
    for reel in (first, second):
        for token, _ in bots:  # the script: every bot likes each reel within seconds
            assert api.data(LIKE, {"id": reel}, token=token)["likeReel"]["userErrors"] == []
        assert api.data(LIKE, {"id": reel}, token=regular_token)["likeReel"]["userErrors"] == []
    eventually(lambda: (_likes(api, first), _likes(api, second)) == (BOTS + 1, BOTS + 1))

    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        subscribe = {
            "query": "subscription S($id: ID!) { reelCounts(reelId: $id) { likes } }",
            "variables": {"id": first},
        }
        ws.send_json({"id": "live", "type": "subscribe", "payload": subscribe})
        assert api.data(LIKE, {"id": first}, token=fan_token)["likeReel"]["userErrors"] == []
        while _live_likes(ws) != BOTS + 2:  # the fan's like arrives: the subscription is live
            pass
        _score(api)  # (on the shared PostgreSQL of the services run, other tests' accounts are scored too)
        assert _live_likes(ws) == 2  # live subscribers get the corrected count
    assert (_likes(api, first), _likes(api, second)) == (2, 1)  # the fan's and the regular's stay
    _score(api)  # a second run changes nothing
    assert (_likes(api, first), _likes(api, second)) == (2, 1)

    moderator = staff_token(api, unique("mod"), "MODERATOR")

    def flag_of(name: str, token: str = moderator) -> Any:
        return api.data(FLAG, {"name": name}, token=token)["user"]["engagementFlag"]

    bot_name = bots[0][1]["username"]
    for _, bot in bots:
        flag = flag_of(bot["username"])
        assert "new account" in flag["reason"] and flag["flaggedAt"].endswith("Z")
    assert flag_of(bot_name, creator_token) is None  # shown to moderators only
    for innocent in (regular["username"], creator["username"], fan["username"]):
        assert flag_of(innocent) is None

    refused = api.data(CLEAR, {"input": {"userId": bots[0][1]["id"], "reason": "x"}}, token=creator_token)
    assert [e["code"] for e in refused["clearEngagementFlag"]["userErrors"]] == ["FORBIDDEN"]
    cleared = api.data(CLEAR, {"input": {"userId": bots[0][1]["id"], "reason": "a real fan"}}, token=moderator)
    assert cleared["clearEngagementFlag"] == {
        "user": {"username": bot_name, "engagementFlag": None},
        "userErrors": [],
    }
    assert (_likes(api, first), _likes(api, second)) == (3, 2)  # the cleared account's likes count again
    _score(api)
    assert flag_of(bot_name) is None  # what it did before the clearing is not judged again
    assert (_likes(api, first), _likes(api, second)) == (3, 2)
    again = api.data(CLEAR, {"input": {"userId": bots[0][1]["id"], "reason": "again"}}, token=moderator)
    assert [(e["field"], e["code"]) for e in again["clearEngagementFlag"]["userErrors"]] == [
        (["input", "userId"], "INVALID")
    ]

    admin = staff_token(api, unique("admin"), "ADMIN")
    entries = [edge["node"] for edge in api.data(LOG, token=admin)["moderationLog"]["edges"]]
    flagged = {user["username"] for _, user in bots}
    flags = [e for e in entries if e["action"] == "FLAG_ENGAGEMENT" and e["user"]["username"] in flagged]
    assert len(flags) == BOTS
    assert {(e["check"], e["actor"]) for e in flags} == {("engagement_scoring", None)}
    assert entries[0] == {
        "action": "CLEAR_ENGAGEMENT_FLAG",
        "check": None,
        "reason": "a real fan",
        "actor": {"username": entries[0]["actor"]["username"]},
        "user": {"username": bot_name},
    }


def _engagements(user_id: int, times: list[float], **watch: Any) -> list[Engagement]:
    return [Engagement(user_id, reel_id=n, at=at, account_age_s=10**8, **watch) for n, at in enumerate(times)]


def test_bursts_and_identical_watch_times_are_suspicious_and_a_steady_viewer_is_not() -> None:
    burst = _engagements(1, [100 + n * 0.5 for n in range(BURST_MIN)])
    robotic = _engagements(2, [1000.0 * n for n in range(IDENTICAL_WATCH_MIN)], watched_ms=4321)
    steady = _engagements(3, [60.0 * n for n in range(50)], watched_ms=None)
    human = [Engagement(4, n, 30.0 * n, 10**8, watched_ms=3000 + 137 * n) for n in range(40)]
    finished = _engagements(5, [1000.0 * n for n in range(20)], watched_ms=9000, completed=True)
    found = suspicious([*burst, *robotic, *steady, *human, *finished])
    assert set(found) == {1, 2}
    assert found[1] == f"{BURST_MIN} likes and views within 10 s"
    assert found[2] == f"{IDENTICAL_WATCH_MIN} unfinished watches of exactly 4321 ms"
