"""Live counts through the public API: one feed per reel and process authorizes and renders
each event once for all of its subscribers (reels.subscriptions.live_counts). The API tests run
embedded, on one Redis, on a Redis Cluster (sharded channels) and reading from a PostgreSQL
read replica."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

from starlette.testclient import TestClient

from reels.domain import events
from reels.domain.events import ReelCountsChanged
from reels.http.app import create_app
from reels.ports.pubsub import PubSubUnavailable
from reels.settings import Settings
from reels.subscriptions.live_counts import CountsEvent, Member
from tests.api.test_query_counts import counting_statements
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.engagement.conftest import eventually, on_every_setup, unique
from tests.engagement.test_engagement_api import LIKE
from tests.engagement.test_social_api import BLOCK, UNFOLLOW, follow
from tests.ports.test_pubsub_contract import redis_server_on
from tests.services import free_port, stop
from tests.services.redis import running_redis

COUNTS = "subscription S($id: ID!) { reelCounts(reelId: $id) { likes } }"
REEL_ID = "query R($id: ID!) { reel(id: $id) { id } }"


def ready_reel(api: Api, creator_id: str, token: str | None = None, visibility: str = "PUBLIC") -> str:
    """A READY reel straight in the database, once the API reads it back for `token`'s viewer:
    a read replica has it some moments after the primary, and subscribing checks it there."""
    reel = insert_ready_reel(api, creator_id, visibility=visibility)
    eventually(lambda: api.data(REEL_ID, {"id": reel}, token)["reel"])
    return reel


@contextmanager
def subscribed(api: Api, token: str | None, query: str, variables: dict[str, Any], id: str = "s") -> Iterator[Any]:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"token": token} if token else {}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}})
        yield ws


def wait_for_subscribers(api: Api, reel: str, count: int) -> None:
    """Until `count` subscriptions of the reel are live: the protocol has no message saying so."""
    live = api.client.app.state.live_counts
    eventually(lambda: live.subscribers(db_id(reel)) == count)


def publish_counts(api: Api, reel: str, likes: int) -> None:
    """A count update as the aggregator publishes it after a flush."""

    async def publish() -> None:
        counts = {"likes": likes, "views": 0, "comments": 0, "shares": 0}
        await events.publish(platform_of(api).pubsub, ReelCountsChanged(db_id(reel), counts))

    run(api, publish)


def likes_of(message: dict[str, Any]) -> int:
    assert message["type"] == "next", message
    return message["payload"]["data"]["reelCounts"]["likes"]


@on_every_setup
def test_each_operation_gets_its_own_selection_aliases_and_fragments(live_api: Api) -> None:
    api = live_api
    _, creator = api.register(unique("creator"))
    fan_token, _ = api.register(unique("fan"))
    reel = ready_reel(api, creator["id"])
    fancy = """subscription Fancy($id: ID!) { c: reelCounts(reelId: $id) { __typename reelId ...Some } }
               fragment Some on ReelCounts { likes views }"""
    with (
        subscribed(api, None, COUNTS, {"id": reel}, id="plain") as plain,
        subscribed(api, None, fancy, {"id": reel}, id="fancy") as other,
    ):
        wait_for_subscribers(api, reel, 2)
        api.data(LIKE, {"id": reel}, token=fan_token)
        assert plain.receive_json() == {
            "id": "plain",
            "type": "next",
            "payload": {"data": {"reelCounts": {"likes": 1}}},
        }
        assert other.receive_json() == {
            "id": "fancy",
            "type": "next",
            "payload": {"data": {"c": {"__typename": "ReelCounts", "reelId": reel, "likes": 1, "views": 0}}},
        }


@on_every_setup
def test_a_block_ends_only_the_blocked_subscriber(live_api: Api) -> None:
    api = live_api
    creator_token, creator = api.register(unique("creator"))
    blocked_token, blocked = api.register(unique("blocked"))
    fan_token, _ = api.register(unique("fan"))
    reel = ready_reel(api, creator["id"])
    with ExitStack() as stack:
        anonymous = stack.enter_context(subscribed(api, None, COUNTS, {"id": reel}))
        fan = stack.enter_context(subscribed(api, fan_token, COUNTS, {"id": reel}))
        doomed = stack.enter_context(subscribed(api, blocked_token, COUNTS, {"id": reel}))
        wait_for_subscribers(api, reel, 3)
        metrics = api.client.get("/metrics").text
        assert "reels_live_count_feeds 1.0" in metrics and "reels_live_count_subscribers 3.0" in metrics
        publish_counts(api, reel, 1)
        assert [likes_of(ws.receive_json()) for ws in (anonymous, fan, doomed)] == [1, 1, 1]
        api.data(BLOCK, {"id": blocked["id"]}, token=creator_token)
        publish_counts(api, reel, 2)
        assert doomed.receive_json() == {"id": "s", "type": "complete"}
        assert [likes_of(ws.receive_json()) for ws in (anonymous, fan)] == [2, 2]


@on_every_setup
def test_a_followers_only_reel_streams_to_followers_until_they_unfollow(live_api: Api) -> None:
    api = live_api
    _, creator = api.register(unique("creator"))
    fan_token, _ = api.register(unique("fan"))
    stranger_token, _ = api.register(unique("stranger"))
    follow(api, fan_token, creator["id"])
    reel = ready_reel(api, creator["id"], fan_token, visibility="FOLLOWERS")
    with subscribed(api, stranger_token, COUNTS, {"id": reel}) as stranger:
        message = stranger.receive_json()
    assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    with subscribed(api, fan_token, COUNTS, {"id": reel}) as fan:
        wait_for_subscribers(api, reel, 1)
        publish_counts(api, reel, 1)
        assert likes_of(fan.receive_json()) == 1
        api.data(UNFOLLOW, {"id": creator["id"]}, token=fan_token)
        publish_counts(api, reel, 2)
        assert fan.receive_json() == {"id": "s", "type": "complete"}


@on_every_setup
def test_an_event_is_authorized_with_the_same_statements_for_few_or_many_subscribers(live_api: Api) -> None:
    api = live_api
    _, creator = api.register(unique("creator"))
    reel = ready_reel(api, creator["id"])
    tokens = [api.register(unique("fan"))[0] for _ in range(5)]

    def statements_for_one_event(signed_in: list[str], anonymous: int, likes: int) -> int:
        with ExitStack() as stack:
            sockets = [stack.enter_context(subscribed(api, t, COUNTS, {"id": reel})) for t in signed_in]
            sockets += [stack.enter_context(subscribed(api, None, COUNTS, {"id": reel})) for _ in range(anonymous)]
            wait_for_subscribers(api, reel, len(sockets))
            with counting_statements(api) as statements:
                publish_counts(api, reel, likes)
                assert all(likes_of(ws.receive_json()) == likes for ws in sockets)
            return len(statements)

    few, many = statements_for_one_event(tokens[:1], 1, likes=1), statements_for_one_event(tokens, 4, likes=2)
    assert few == many, f"{few} statements for 2 subscribers but {many} for 9"


class _Renderer:
    key = ("query", None, "{}")

    async def render(self, counts: Any) -> str:
        return str(counts)


async def test_a_slow_subscriber_gets_the_newest_counts_not_a_backlog() -> None:
    member = Member(None, _Renderer())  # type: ignore[arg-type]  # renders the counts as text
    for likes in (1, 2, 3):
        member.offer(CountsEvent(likes))  # type: ignore[arg-type]
    payloads = member.payloads()
    assert await anext(payloads) == "3"
    member.end()
    assert [payload async for payload in payloads] == []


def test_subscribers_are_told_when_redis_is_gone_for_good(embedded_settings: Settings) -> None:
    with running_redis() as (redis, url):
        settings = embedded_settings.model_copy(
            update={"redis_url": url, "secret_key": "r" * 40, "pubsub_reconnect_timeout_s": 0.5}
        )
        with TestClient(create_app(settings, run_workers=False)) as client:
            api = Api(client)
            _, creator = api.register(unique("creator"))
            reel = insert_ready_reel(api, creator["id"])
            with subscribed(api, None, COUNTS, {"id": reel}) as ws:
                wait_for_subscribers(api, reel, 1)
                publish_counts(api, reel, 1)
                assert likes_of(ws.receive_json()) == 1
                stop(redis)
                message = ws.receive_json()
                assert message["type"] == "next" and message["payload"]["errors"][0]["extensions"] == {
                    "code": "UNAVAILABLE"
                }, message
                assert ws.receive_json() == {"id": "s", "type": "complete"}


def test_subscribers_resume_after_a_short_redis_outage(embedded_settings: Settings) -> None:
    port = free_port()
    redis = redis_server_on(port)
    try:
        settings = embedded_settings.model_copy(
            update={"redis_url": f"redis://127.0.0.1:{port}/0", "secret_key": "r" * 40}
        )
        with TestClient(create_app(settings, run_workers=False)) as client:
            api = Api(client)
            _, creator = api.register(unique("creator"))
            reel = insert_ready_reel(api, creator["id"])
            with subscribed(api, None, COUNTS, {"id": reel}) as ws:
                wait_for_subscribers(api, reel, 1)
                publish_counts(api, reel, 1)
                assert likes_of(ws.receive_json()) == 1
                stop(redis)
                redis = redis_server_on(port)

                async def keep_publishing() -> None:  # what is published before the resubscribe is lost
                    while True:
                        with suppress(PubSubUnavailable):
                            await events.publish(
                                platform_of(api).pubsub,
                                ReelCountsChanged(db_id(reel), {"likes": 2, "views": 0, "comments": 0, "shares": 0}),
                            )
                        await asyncio.sleep(0.1)

                publishing = client.portal.start_task_soon(keep_publishing)
                try:
                    assert likes_of(ws.receive_json()) == 2
                finally:
                    publishing.cancel()
    finally:
        stop(redis)
