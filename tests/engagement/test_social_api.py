"""Follows, blocks, mutes and notifications through the public API, on both setups."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, insert_ready_reel
from tests.engagement.conftest import eventually, unique
from tests.engagement.test_engagement_api import COMMENT, LIKE, counts

FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { user { id followerCount viewerIsFollowing } userErrors { code field } } }"
UNFOLLOW = "mutation U($id: ID!) { unfollow(input: {userId: $id}) { user { followerCount } userErrors { code } } }"
BLOCK = "mutation B($id: ID!) { blockUser(input: {userId: $id}) { user { id } userErrors { code } } }"
MUTE = "mutation M($id: ID!) { muteUser(input: {userId: $id}) { user { id } userErrors { code } } }"
PROFILE = """query P($name: String!) { user(username: $name) { id followerCount followingCount viewerIsFollowing
  reels(first: 5) { edges { node { id } } } } }"""
FOLLOWERS = """query F($id: ID!, $after: String) { followers(userId: $id, first: 2, after: $after) {
  edges { node { username viewerIsFollowing } } pageInfo { hasNextPage endCursor } } }"""
FOLLOWING_FEED = "query { followingFeed(first: 10) { edges { node { id creator { username } } } } }"
FEED = "query { feed(first: 50) { edges { node { id } } } }"
FEED_PAGE = """query F($after: String) {
  feed(first: 50, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }"""


def follow(api: Api, token: str, user_id: str) -> dict[str, Any]:
    return api.data(FOLLOW, {"id": user_id}, token=token)["follow"]


def test_follow_is_idempotent_counted_and_paginated(live_api: Api) -> None:
    api = live_api
    star_token, star = api.register(unique("star"))
    fans = [api.register(unique("fan")) for _ in range(3)]
    for token, _ in fans:
        assert follow(api, token, star["id"])["userErrors"] == []
    again = follow(api, fans[0][0], star["id"])
    assert again["userErrors"] == [] and again["user"]["followerCount"] == 3

    profile = api.data(PROFILE, {"name": star["username"]}, token=fans[0][0])["user"]
    assert profile["followerCount"] == 3 and profile["viewerIsFollowing"] is True
    assert api.data(PROFILE, {"name": star["username"]}, token=star_token)["user"]["viewerIsFollowing"] is False

    first = api.data(FOLLOWERS, {"id": star["id"]})["followers"]
    second = api.data(FOLLOWERS, {"id": star["id"], "after": first["pageInfo"]["endCursor"]})["followers"]
    names = [e["node"]["username"] for e in first["edges"] + second["edges"]]
    assert names == [user["username"] for _, user in reversed(fans)]  # newest first, no gap or repeat
    assert first["pageInfo"]["hasNextPage"] is True and second["pageInfo"]["hasNextPage"] is False

    assert api.data(UNFOLLOW, {"id": star["id"]}, token=fans[0][0])["unfollow"]["user"]["followerCount"] == 2
    assert api.data(UNFOLLOW, {"id": star["id"]}, token=fans[0][0])["unfollow"]["user"]["followerCount"] == 2


def test_follow_refuses_oneself_unknown_users_and_anonymous(live_api: Api) -> None:
    api = live_api
    token, me = api.register(unique("me"))
    assert follow(api, token, me["id"])["userErrors"][0]["code"] == "INVALID"
    assert follow(api, token, "VXNlcjox")["userErrors"] == [{"code": "NOT_FOUND", "field": ["input", "userId"]}]
    anonymous = api.data(FOLLOW, {"id": me["id"]})["follow"]
    assert anonymous == {"user": None, "userErrors": [{"code": "UNAUTHENTICATED", "field": []}]}


def test_a_block_hides_each_from_the_other_and_removes_follows(live_api: Api) -> None:
    api = live_api
    alice_token, alice = api.register(unique("alice"))
    bob_token, bob = api.register(unique("bob"))
    follow(api, alice_token, bob["id"])
    follow(api, bob_token, alice["id"])
    reel = insert_ready_reel(api, alice["id"])
    assert api.data(BLOCK, {"id": bob["id"]}, token=alice_token)["blockUser"]["userErrors"] == []

    assert api.data(PROFILE, {"name": alice["username"]}, token=bob_token)["user"] is None
    assert api.data("query R($id: ID!) { reel(id: $id) { id } }", {"id": reel}, token=bob_token)["reel"] is None
    assert api.data(LIKE, {"id": reel}, token=bob_token)["likeReel"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert follow(api, bob_token, alice["id"])["userErrors"][0]["code"] == "FORBIDDEN"
    assert follow(api, alice_token, bob["id"])["userErrors"][0]["code"] == "FORBIDDEN"
    mine = api.data(PROFILE, {"name": alice["username"]}, token=alice_token)["user"]
    assert mine["followerCount"] == 0 and mine["followingCount"] == 0  # follows both ways are gone
    # Others still see everything.
    carol_token, _ = api.register(unique("carol"))
    assert api.data("query R($id: ID!) { reel(id: $id) { id } }", {"id": reel}, token=carol_token)["reel"] == {
        "id": reel
    }


def test_a_mute_only_removes_the_creator_from_feeds(live_api: Api) -> None:
    api = live_api
    viewer_token, _ = api.register(unique("viewer"))
    _, loud = api.register(unique("loud"))
    _, quiet = api.register(unique("quiet"))
    loud_reel = insert_ready_reel(api, loud["id"])
    quiet_reel = insert_ready_reel(api, quiet["id"])
    for creator in (loud, quiet):
        follow(api, viewer_token, creator["id"])

    def feeds() -> tuple[set[str], set[str]]:
        following = {e["node"]["id"] for e in api.data(FOLLOWING_FEED, token=viewer_token)["followingFeed"]["edges"]}
        feed = {e["node"]["id"] for e in api.data(FEED, token=viewer_token)["feed"]["edges"]}
        return following, feed

    assert all({loud_reel, quiet_reel} <= ids for ids in feeds())
    assert api.data(MUTE, {"id": loud["id"]}, token=viewer_token)["muteUser"]["userErrors"] == []
    following = {e["node"]["id"] for e in api.data(FOLLOWING_FEED, token=viewer_token)["followingFeed"]["edges"]}
    assert loud_reel not in following and quiet_reel in following
    # A new For You session puts reels already served after the unseen ones (on a database other
    # tests share, pages of them): page on until the quiet creator's reel comes back.
    served: list[str] = []
    after = None
    for _ in range(40):
        page = api.data(FEED_PAGE, {"after": after}, token=viewer_token)["feed"]
        served += [edge["node"]["id"] for edge in page["edges"]]
        if quiet_reel in served or not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert quiet_reel in served and loud_reel not in served
    # Still followed, still visible directly.
    assert api.data(PROFILE, {"name": loud["username"]}, token=viewer_token)["user"]["viewerIsFollowing"] is True
    assert api.data("query R($id: ID!) { reel(id: $id) { id } }", {"id": loud_reel}, token=viewer_token)["reel"]


def _subscribe(ws: Any, token: str | None, query: str, variables: dict[str, Any] | None = None) -> None:
    ws.send_json({"type": "connection_init", "payload": {"token": token} if token else {}})
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json({"id": "s", "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})


def test_the_creator_is_notified_of_follows_likes_and_comments(live_api: Api) -> None:
    api = live_api
    creator_token, creator = api.register(unique("creator"))
    fan_token, fan = api.register(unique("fan"))
    reel = insert_ready_reel(api, creator["id"])
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        _subscribe(ws, creator_token, "subscription { notifications { kind actor { username } reel { id } } }")
        follow(api, fan_token, creator["id"])
        api.data(LIKE, {"id": reel}, token=fan_token)
        api.data(COMMENT, {"id": reel, "text": "nice"}, token=fan_token)
        received = [ws.receive_json()["payload"]["data"]["notifications"] for _ in range(3)]
    assert received == [
        {"kind": "FOLLOWED", "actor": {"username": fan["username"]}, "reel": None},
        {"kind": "LIKED", "actor": {"username": fan["username"]}, "reel": {"id": reel}},
        {"kind": "COMMENTED", "actor": {"username": fan["username"]}, "reel": {"id": reel}},
    ]


INBOX = "query { notifications(first: 10) { edges { node { kind actor { username } reel { id } createdAt } } } }"


def test_a_like_is_stored_counted_and_told_once_and_ones_own_like_is_not_told(live_api: Api) -> None:
    api = live_api
    creator_token, creator = api.register(unique("creator"))
    fan_token, fan = api.register(unique("fan"))
    reel = insert_ready_reel(api, creator["id"])
    for _ in range(2):  # the second like changes nothing
        liked = api.data(LIKE, {"id": reel}, token=fan_token)["likeReel"]
        assert liked == {"reel": {"id": reel, "viewerHasLiked": True}, "userErrors": []}
    assert api.data(LIKE, {"id": reel}, token=creator_token)["likeReel"]["userErrors"] == []

    told = [edge["node"] for edge in api.data(INBOX, token=creator_token)["notifications"]["edges"]]
    assert [(n["kind"], n["actor"], n["reel"]) for n in told] == [
        ("LIKED", {"username": fan["username"]}, {"id": reel})
    ]
    assert told[0]["createdAt"].endswith("Z")
    assert api.data(INBOX, token=fan_token)["notifications"]["edges"] == []
    eventually(lambda: counts(api, reel)["counts"]["likes"] == 2)
    assert counts(api, reel, fan_token)["viewerHasLiked"] is True


@pytest.mark.parametrize("which", ["private", "malformed", "empty"])
def test_subscribing_to_a_hidden_or_malformed_reel_is_an_error(live_api: Api, which: str) -> None:
    api = live_api
    _, creator = api.register(unique("creator"))
    reel = {
        "private": insert_ready_reel(api, creator["id"], visibility="PRIVATE"),
        "malformed": "garbage",
        "empty": "",
    }[which]
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        _subscribe(ws, None, "subscription S($id: ID!) { reelCounts(reelId: $id) { likes } }", {"id": reel})
        message = ws.receive_json()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


def test_suggested_creators_are_two_hops_away_ranked_by_paths(live_api: Api) -> None:
    api = live_api
    me_token, _ = api.register(unique("me"))
    friends = [api.register(unique("friend")) for _ in range(2)]
    popular, niche, blocked = (api.register(unique(name))[1] for name in ("popular", "niche", "blocked"))
    for token, friend in friends:
        follow(api, me_token, friend["id"])
        follow(api, token, popular["id"])
        follow(api, token, blocked["id"])
    follow(api, friends[0][0], niche["id"])
    api.data(BLOCK, {"id": blocked["id"]}, token=me_token)
    query = "query { suggestedCreators(first: 5) { username } }"
    names = [u["username"] for u in api.data(query, token=me_token)["suggestedCreators"]]
    assert names == [popular["username"], niche["username"]]
    assert api(query)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def _reel_turned_ready(api: Api, creator_id: str) -> str:
    """A reel as the media worker leaves it: READY, with its fan-out job queued."""
    from reels.domain import events
    from tests.conftest import db_id, platform_of, run

    reel = insert_ready_reel(api, creator_id)

    async def queue_fanout() -> None:
        await events.send(platform_of(api).queue, events.FanOutReel(db_id(reel)))

    run(api, queue_fanout)
    return reel


def test_followers_are_told_of_a_new_reel_by_the_fanout_consumer(live_api: Api) -> None:
    api = live_api
    creator_token, creator = api.register(unique("creator"))
    follower_token, _ = api.register(unique("follower"))
    follow(api, follower_token, creator["id"])
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        _subscribe(ws, follower_token, "subscription { notifications { kind actor { username } reel { id } } }")
        reel = _reel_turned_ready(api, creator["id"])
        received = ws.receive_json()["payload"]["data"]["notifications"]
    assert received == {"kind": "NEW_REEL", "actor": {"username": creator["username"]}, "reel": {"id": reel}}


def test_followers_hear_of_a_reel_whose_worker_died_after_making_it_ready(live_api: Api) -> None:
    from reels.domain import events
    from tests.conftest import db_id, platform_of, run

    api = live_api
    _, creator = api.register(unique("creator"))
    follower_token, _ = api.register(unique("follower"))
    follow(api, follower_token, creator["id"])
    # READY is committed, but the worker died before queueing the fan-out, so its media job
    # was never acknowledged: the queue delivers it again.
    reel = insert_ready_reel(api, creator["id"])

    async def redeliver() -> None:
        await events.send(platform_of(api).queue, events.ReelUploaded(db_id(reel)))

    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        _subscribe(ws, follower_token, "subscription { notifications { kind reel { id } } }")
        run(api, redeliver)
        assert ws.receive_json()["payload"]["data"]["notifications"] == {"kind": "NEW_REEL", "reel": {"id": reel}}


def test_overlapping_fan_out_runs_tell_each_follower_once(live_api: Api) -> None:
    import asyncio

    from sqlalchemy import select

    from reels.domain.models import Notification, NotificationKind
    from reels.workers import fanout
    from tests.conftest import db_id, platform_of, run

    api = live_api
    _, creator = api.register(unique("creator"))
    fans = [api.register(unique("fan")) for _ in range(3)]
    for token, _ in fans:
        follow(api, token, creator["id"])
    reel = insert_ready_reel(api, creator["id"])

    async def fan_out_twice_at_once_then_again() -> list[int]:
        platform, job = platform_of(api), {"reel_id": db_id(reel)}
        await asyncio.gather(fanout.handle(platform, job), fanout.handle(platform, job))
        await fanout.handle(platform, job)
        async with platform.sessions() as session:
            told = select(Notification.user_id).where(
                Notification.kind == NotificationKind.NEW_REEL, Notification.reel_id == db_id(reel)
            )
            return sorted((await session.scalars(told)).all())

    assert run(api, fan_out_twice_at_once_then_again) == sorted(db_id(fan["id"]) for _, fan in fans)


def test_celebrities_are_not_fanned_out(live_api: Api) -> None:
    from sqlalchemy import func, select

    from reels.domain.models import Notification, NotificationKind
    from tests.conftest import platform_of, run

    api = live_api
    platform_of(api).settings.celebrity_followers = 1
    _, star = api.register(unique("star"))
    for _ in range(2):
        follow(api, api.register(unique("fan"))[0], star["id"])
    _reel_turned_ready(api, star["id"])
    _, regular = api.register(unique("regular"))
    follow(api, api.register(unique("fan"))[0], regular["id"])
    _reel_turned_ready(api, regular["id"])

    async def new_reel_notifications(actor: str) -> int:
        from tests.conftest import db_id

        async with platform_of(api).sessions() as session:
            return await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.kind == NotificationKind.NEW_REEL, Notification.actor_id == db_id(actor))
            )

    from reels.domain.events import Topic
    from reels.workers import fanout
    from tests.engagement.conftest import eventually

    async def fanout_backlog() -> int:
        return await platform_of(api).queue.depth(Topic.FANOUT, fanout.GROUP)

    eventually(lambda: run(api, fanout_backlog) == 0)  # both jobs are done
    assert run(api, new_reel_notifications, regular["id"]) == 1
    assert run(api, new_reel_notifications, star["id"]) == 0
