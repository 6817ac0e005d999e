"""Likes, views, comments, shares and live counts through the public API.

Each test runs on the embedded setup and on Redis + PostgreSQL, with the aggregator flushing
every 50 ms in the same process.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reels.domain import engagement
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.engagement.conftest import eventually, unique

LIKE = "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { reel { id viewerHasLiked } userErrors { code } } }"
UNLIKE = "mutation U($id: ID!) { unlikeReel(input: {reelId: $id}) { reel { id } userErrors { code } } }"
SHARE = "mutation S($id: ID!) { shareReel(input: {reelId: $id}) { reel { id } userErrors { code } } }"
COUNTS = "query C($id: ID!) { reel(id: $id) { viewerHasLiked counts { likes views comments shares } } }"
VIEW = """mutation V($input: RecordViewInput!) { recordView(input: $input) { counted userErrors { field code message } } }"""
COMMENT = """mutation A($id: ID!, $text: String!) {
  addComment(input: {reelId: $id, text: $text}) { comment { id text author { username } } userErrors { field code } } }"""
DELETE_COMMENT = (
    """mutation D($id: ID!) { deleteComment(input: {commentId: $id}) { comment { id } userErrors { code } } }"""
)
COMMENTS = """query P($id: ID!, $after: String) { reel(id: $id) {
  comments(first: 2, after: $after) { totalCount edges { cursor node { text } } pageInfo { hasNextPage endCursor } } } }"""


def counts(api: Api, reel: str, token: str | None = None) -> dict[str, Any]:
    return api.data(COUNTS, {"id": reel}, token=token)["reel"]


def setup_reel(api: Api, **options: Any) -> tuple[str, dict[str, Any], str]:
    token, creator = api.register(unique("creator"))
    return token, creator, insert_ready_reel(api, creator["id"], **options)


def test_likes_are_idempotent_counted_in_batches_and_unlikeable(live_api: Api) -> None:
    api = live_api
    _, _, reel = setup_reel(api)
    ann, _ = api.register(unique("ann"))
    ben, _ = api.register(unique("ben"))
    for token in (ann, ann, ben):  # three calls from two users
        payload = api.data(LIKE, {"id": reel}, token=token)["likeReel"]
        assert payload["userErrors"] == [] and payload["reel"]["viewerHasLiked"] is True
    eventually(lambda: counts(api, reel)["counts"]["likes"] == 2)
    assert counts(api, reel, ann)["viewerHasLiked"] is True
    assert counts(api, reel)["viewerHasLiked"] is False  # anonymous

    api.data(UNLIKE, {"id": reel}, token=ann)
    api.data(UNLIKE, {"id": reel}, token=ann)  # undoing twice changes nothing more
    eventually(lambda: counts(api, reel)["counts"]["likes"] == 1)
    assert counts(api, reel, ann)["viewerHasLiked"] is False


def test_live_counts_reach_a_subscriber_coalesced(live_api: Api) -> None:
    api = live_api
    _, _, reel = setup_reel(api)
    fans = [api.register(unique("fan"))[0] for _ in range(2)]
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "c",
                "type": "subscribe",
                "payload": {
                    "query": "subscription S($id: ID!) { reelCounts(reelId: $id) { reelId likes shares } }",
                    "variables": {"id": reel},
                },
            }
        )
        for token in (fans[0], fans[0], fans[1]):
            api.data(LIKE, {"id": reel}, token=token)
        latest = None
        while latest is None or latest["likes"] < 2:
            message = ws.receive_json()
            assert message["type"] == "next", message
            latest = message["payload"]["data"]["reelCounts"]
        assert latest == {"reelId": reel, "likes": 2, "shares": 0}
        api.data(UNLIKE, {"id": reel}, token=fans[1])
        assert ws.receive_json()["payload"]["data"]["reelCounts"]["likes"] == 1


def test_shares_are_counted(live_api: Api) -> None:
    api = live_api
    _, _, reel = setup_reel(api)
    sharer, _ = api.register(unique("sharer"))
    for _ in range(3):
        assert api.data(SHARE, {"id": reel}, token=sharer)["shareReel"]["userErrors"] == []
    eventually(lambda: counts(api, reel)["counts"]["shares"] == 3)


def _view(
    api: Api,
    reel: str,
    watched_ms: int,
    completed: bool = False,
    token: str | None = None,
    session_id: str | None = None,
) -> dict[str, Any]:
    view_input: dict[str, Any] = {"reelId": reel, "watchedMs": watched_ms, "completed": completed}
    if session_id:
        view_input["sessionId"] = session_id
    return api.data(VIEW, {"input": view_input}, token=token)["recordView"]


def test_views_count_at_three_seconds_or_completion_once_per_window(live_api: Api) -> None:
    api = live_api
    _, _, reel = setup_reel(api, duration_ms=8_000)
    viewer, _ = api.register(unique("viewer"))
    assert _view(api, reel, 4_000, token=viewer)["counted"] is True
    assert _view(api, reel, 4_000, token=viewer)["counted"] is False  # same viewer, same window
    other, _ = api.register(unique("other"))
    assert _view(api, reel, 1_000, token=other)["counted"] is False  # under the milestone
    assert _view(api, reel, 2_000, completed=True, token=other)["counted"] is True  # completion counts
    assert _view(api, reel, 3_500, session_id="anon-1")["counted"] is True  # anonymous, by session
    assert _view(api, reel, 3_500, session_id="anon-1")["counted"] is False
    unsessioned = _view(api, reel, 3_500)  # anonymous without a session: told why it cannot count
    assert unsessioned["counted"] is False
    assert [(e["field"], e["code"]) for e in unsessioned["userErrors"]] == [(["input", "sessionId"], "INVALID")]
    eventually(lambda: counts(api, reel)["counts"]["views"] == 3)

    from sqlalchemy import func, select

    from reels.domain.models import WatchEvent

    async def stored() -> int:
        async with platform_of(api).sessions() as session:
            return await session.scalar(
                select(func.count()).select_from(WatchEvent).where(WatchEvent.reel_id == db_id(reel))
            )

    eventually(lambda: run(api, stored) == 7)  # every call is kept for the ranker, counted or not

    async def rows() -> list[Any]:
        async with platform_of(api).sessions() as session:
            found = await session.execute(
                select(
                    WatchEvent.watched_ms,
                    WatchEvent.completed,
                    WatchEvent.counted,
                    WatchEvent.session_id,
                    WatchEvent.viewer_id,
                    WatchEvent.created_at,
                ).where(WatchEvent.reel_id == db_id(reel))
            )
            return list(found.all())

    watches = run(api, rows)
    signed_in = {viewer_id for _, _, _, _, viewer_id, _ in watches if viewer_id is not None}
    assert len(signed_in) == 2  # the viewer and the other
    assert sorted((ms, done, counted, session or "") for ms, done, counted, session, _, _ in watches) == [
        (1_000, False, False, ""),
        (2_000, True, True, ""),
        (3_500, False, False, ""),
        (3_500, False, False, "anon-1"),
        (3_500, False, True, "anon-1"),
        (4_000, False, False, ""),
        (4_000, False, True, ""),
    ]
    assert all(isinstance(at, datetime) for *_, at in watches)  # the row's time reads back as one


def test_a_watch_row_keeps_the_views_context_and_time(live_api: Api) -> None:
    from sqlalchemy import select

    from reels.domain.models import WatchEvent

    api = live_api
    _, _, reel = setup_reel(api, duration_ms=8_000)
    viewer, _ = api.register(unique("viewer"))
    contexts = [{"network": "FAST", "region": "IN"}, {"device": "LOW"}, {"network": "FAST", "region": "IN"}, None]
    before = datetime.now(UTC)
    for context in contexts:
        view_input = {"reelId": reel, "watchedMs": 1_000, "completed": False, "context": context}
        assert api.data(VIEW, {"input": view_input}, token=viewer)["recordView"]["userErrors"] == []
    after = datetime.now(UTC)

    async def rows() -> list[Any]:
        async with platform_of(api).sessions() as session:
            found = await session.execute(
                select(WatchEvent.id, WatchEvent.context, WatchEvent.created_at).where(
                    WatchEvent.reel_id == db_id(reel)
                )
            )
            return list(found.all())

    eventually(lambda: len(run(api, rows)) == len(contexts))
    stored = sorted(run(api, rows))  # ids are time-ordered: the order of the calls
    assert len({watch_id for watch_id, _, _ in stored}) == len(contexts)
    assert [context for _, context, _ in stored] == [
        {"network": "FAST", "device": None, "region": "IN"},
        {"network": None, "device": "LOW", "region": None},
        {"network": "FAST", "device": None, "region": "IN"},
        {},
    ]
    # The event's time, to the microsecond (SQLite reads it back without its UTC offset).
    times = [at if at.tzinfo else at.replace(tzinfo=UTC) for _, _, at in stored]
    assert before <= times[0] <= times[1] <= times[2] <= times[3] <= after


@pytest.mark.parametrize("watched_ms", [-1, 80_001])
def test_absurd_watch_times_are_invalid(live_api: Api, watched_ms: int) -> None:
    _, _, reel = setup_reel(live_api, duration_ms=8_000)
    payload = _view(live_api, reel, watched_ms, session_id="s")
    assert payload["counted"] is False
    assert payload["userErrors"][0]["code"] == "INVALID" and payload["userErrors"][0]["field"] == ["input", "watchedMs"]


def test_an_implausible_view_rate_flags_the_account_and_stops_counting(live_api: Api) -> None:
    api = live_api
    token, creator = api.register(unique("prolific"))
    reels = [insert_ready_reel(api, creator["id"]) for _ in range(22)]
    bot, bot_user = api.register(unique("bot"))
    counted = [_view(api, reel, 3_000, token=bot)["counted"] for reel in reels]
    assert counted[:20] == [True] * 20 and counted[20:] == [False, False]

    from reels.domain.models import User

    async def flagged() -> bool:
        async with platform_of(api).sessions() as session:
            return (await session.get(User, db_id(bot_user["id"]))).views_flagged_at is not None

    assert run(api, flagged)


def test_the_view_budget_is_any_sixty_seconds_not_a_calendar_minute(
    live_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = live_api
    _, creator = api.register(unique("prolific"))
    reels = [insert_ready_reel(api, creator["id"]) for _ in range(25)]
    now = [1_800_000_000.0]  # the turn of a minute
    monkeypatch.setattr(engagement, "view_rate_clock", lambda: now[0])

    steady, _ = api.register(unique("steady"))  # one view every 3.01 s: twenty a minute, never more
    for reel in reels:
        now[0] += 3.01
        assert _view(api, reel, 3_000, token=steady)["counted"] is True

    bot, _ = api.register(unique("bot"))
    now[0] = 1_800_000_059.0  # twenty views in the second before a minute turns
    assert [_view(api, reel, 3_000, token=bot)["counted"] for reel in reels[:20]] == [True] * 20
    now[0] += 2  # and one just after it
    assert _view(api, reels[20], 3_000, token=bot)["counted"] is False


def test_comments_validate_paginate_and_obey_who_may_delete(live_api: Api) -> None:
    api = live_api
    creator_token, _, reel = setup_reel(api)
    author, _ = api.register(unique("author"))
    stranger, _ = api.register(unique("stranger"))
    mod_token, _ = api.register(unique("mod"))
    _make_moderator(api, mod_token)

    assert (
        api.data(COMMENT, {"id": reel, "text": "   "}, token=author)["addComment"]["userErrors"][0]["code"] == "INVALID"
    )
    too_long = api.data(COMMENT, {"id": reel, "text": "x" * 2201}, token=author)["addComment"]
    assert too_long["comment"] is None and too_long["userErrors"][0]["code"] == "TOO_LONG"
    ids = [
        api.data(COMMENT, {"id": reel, "text": f" comment {n} "}, token=author)["addComment"]["comment"]["id"]
        for n in range(5)
    ]

    first = api.data(COMMENTS, {"id": reel})["reel"]["comments"]
    assert [e["node"]["text"] for e in first["edges"]] == ["comment 4", "comment 3"]  # newest first, trimmed
    second = api.data(COMMENTS, {"id": reel, "after": first["pageInfo"]["endCursor"]})["reel"]["comments"]
    assert [e["node"]["text"] for e in second["edges"]] == ["comment 2", "comment 1"]
    eventually(lambda: api.data(COMMENTS, {"id": reel})["reel"]["comments"]["totalCount"] == 5)

    refused = api.data(DELETE_COMMENT, {"id": ids[0]}, token=stranger)["deleteComment"]
    assert refused["comment"] is None and refused["userErrors"][0]["code"] == "FORBIDDEN"
    for token, comment in ((author, ids[0]), (creator_token, ids[1]), (mod_token, ids[2])):
        assert api.data(DELETE_COMMENT, {"id": comment}, token=token)["deleteComment"]["userErrors"] == []
    assert (
        api.data(DELETE_COMMENT, {"id": ids[0]}, token=author)["deleteComment"]["userErrors"][0]["code"] == "NOT_FOUND"
    )
    eventually(lambda: counts(api, reel)["counts"]["comments"] == 2)
    texts = [e["node"]["text"] for e in api.data(COMMENTS, {"id": reel})["reel"]["comments"]["edges"]]
    assert texts == ["comment 4", "comment 3"]


def _make_moderator(api: Api, token: str) -> None:
    from sqlalchemy import update

    from reels.domain.models import Role, User

    user_id = db_id(api.data("{ viewer { id } }", token=token)["viewer"]["id"])

    async def promote() -> None:
        async with platform_of(api).sessions() as session:
            await session.execute(update(User).where(User.id == user_id).values(role=Role.MODERATOR))
            await session.commit()

    run(api, promote)


def test_likes_are_rate_limited_with_a_retry_hint(live_api: Api) -> None:
    api = live_api
    _, _, reel = setup_reel(api)
    eager, _ = api.register(unique("eager"))
    # Likes and unlikes share a bucket of 30 refilled at 2 a second: calls quicker than 0.5 s
    # each drain it, however slow the machine, so keep calling until one is refused.
    toggles = [
        "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { userErrors { code message } } }",
        "mutation U($id: ID!) { unlikeReel(input: {reelId: $id}) { userErrors { code message } } }",
    ]
    refused = []
    for n in range(400):
        payload = api.data(toggles[n % 2], {"id": reel}, token=eager)
        if refused := next(iter(payload.values()))["userErrors"]:
            break
    assert [error["code"] for error in refused] == ["RATE_LIMITED"]
    assert "try again in" in refused[0]["message"]


def test_hidden_reels_cannot_be_engaged_with(live_api: Api) -> None:
    api = live_api
    _, _, reel = setup_reel(api, visibility="PRIVATE")
    fan, _ = api.register(unique("fan"))
    for query in (LIKE, SHARE):
        assert next(iter(api.data(query, {"id": reel}, token=fan).values()))["userErrors"][0]["code"] == "NOT_FOUND"
    assert (
        api.data(COMMENT, {"id": reel, "text": "hi"}, token=fan)["addComment"]["userErrors"][0]["code"] == "NOT_FOUND"
    )
    assert api.data(LIKE, {"id": reel})["likeReel"] == {"reel": None, "userErrors": [{"code": "UNAUTHENTICATED"}]}
