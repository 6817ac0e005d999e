"""Scale-out: two `reels serve` and two `reels worker` processes (see conftest.py) on one
PostgreSQL (or a primary and a read replica), one Redis and one Bolt graph server. What is done
through one API is seen through the other, and a worker killed mid-stream loses no engagement
event. Reading a replica, an API sees a row some moments after the primary has it: what a test
wrote straight to the database, or another API wrote, is waited for before it is relied on.

Everything goes over real sockets: GraphQL over HTTP with httpx, subscriptions with the
`websockets` client speaking graphql-transport-ws.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from reels.db import create_engine, session_factory
from reels.domain.models import Reel, ReelStatus, Visibility
from reels.ports.queue.base import DEFAULT_PARTITIONS, partition_for
from reels.schema.globalid import to_global_id
from reels.settings import Settings
from tests.conftest import REGISTER, db_id
from tests.scaleout.conftest import Cluster, lease_owners

pytestmark = pytest.mark.services

# A dead worker's leases expire after 10 s and the survivor looks every ~3.3 s.
TAKEOVER_DEADLINE_S = 60.0

LIKE = "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { userErrors { code message } } }"
VIEW = """mutation V($input: RecordViewInput!) { recordView(input: $input) { counted userErrors { code message } } }"""
COUNTS = "query C($id: ID!) { reel(id: $id) { counts { likes views } } }"
FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { user { id } userErrors { code message } } }"
PROFILE = "query P($name: String!) { user(username: $name) { followerCount viewerIsFollowing } }"
FOLLOWERS = "query Fs($id: ID!) { followers(userId: $id) { edges { node { username } } } }"
REEL_COUNTS = "subscription S($id: ID!) { reelCounts(reelId: $id) { reelId likes views } }"
REEL_ID = "query R($id: ID!) { reel(id: $id) { id } }"
USER_ID = "query U($name: String!) { user(username: $name) { id } }"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


class Api:
    """GraphQL over HTTP against one API process."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.ws_url = str(client.base_url.copy_with(scheme="ws", path="/graphql"))

    async def data(self, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    async def register(self, prefix: str) -> tuple[str, dict[str, Any]]:
        payload = (
            await self.data(REGISTER, {"input": {"username": unique(prefix), "password": "correct horse battery"}})
        )["register"]
        assert payload["userErrors"] == [], payload
        return payload["token"], payload["user"]

    async def like(self, token: str, reel: str) -> None:
        assert (await self.data(LIKE, {"id": reel}, token))["likeReel"]["userErrors"] == []

    async def view(self, token: str, reel: str) -> None:
        payload = (await self.data(VIEW, {"input": {"reelId": reel, "watchedMs": 4000, "completed": False}}, token))[
            "recordView"
        ]
        assert payload == {"counted": True, "userErrors": []}

    async def counts(self, reel: str) -> dict[str, int]:
        return (await self.data(COUNTS, {"id": reel}))["reel"]["counts"]


# uvicorn closes a keep-alive connection idle for 5 s; a client reusing one at that moment reads
# a reset. The clients give idle connections up sooner (a test waits seconds between steps).
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2.0)


@pytest.fixture
async def apis(cluster: Cluster) -> AsyncIterator[tuple[Api, Api]]:
    async with httpx.AsyncClient(base_url=cluster.api_urls[0], timeout=30, limits=CLIENT_LIMITS) as a:
        async with httpx.AsyncClient(base_url=cluster.api_urls[1], timeout=30, limits=CLIENT_LIMITS) as b:
            yield Api(a), Api(b)


async def replayed(api: Api, query: str, variables: dict[str, Any]) -> None:
    """Until the API finds what `query` looks up (its one root field is not null)."""

    async def found() -> Any:
        return next(iter((await api.data(query, variables)).values()))

    await _wait_for(found, 20, f"{variables} through {api.client.base_url}")


async def insert_ready_reel(database_url: str, creator_global_id: str) -> tuple[int, str]:
    """A READY reel straight in the database (processing is not under test): (db id, global id)."""
    prefix = "reels/test/"
    reel = Reel(
        creator_id=db_id(creator_global_id), caption="scale-out", status=ReelStatus.READY,
        visibility=Visibility.PUBLIC, duration_ms=10_000, width=720, height=1280, fps=30.0,
        media={"hls": prefix + "hls/master.m3u8", "startup_segment": prefix + "hls/v0/seg_000.m4s",
               "renditions": [{"width": 720, "height": 1280, "bandwidth": 3_000_000,
                               "playlist": prefix + "hls/v3/index.m3u8"}],
               "thumbnail": prefix + "thumb.jpg", "preview": prefix + "preview.mp4"},
    )  # fmt: skip
    engine = create_engine(Settings(database_url=database_url).resolved_database_url)
    try:
        async with session_factory(engine)() as session:
            session.add(reel)
            await session.commit()
    finally:
        await engine.dispose()
    return reel.id, to_global_id("Reel", reel.id)


@asynccontextmanager
async def subscribed(api: Api, query: str, variables: dict[str, Any]) -> AsyncIterator[ClientConnection]:
    async with connect(api.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        yield ws


async def next_data(ws: ClientConnection, timeout_s: float) -> dict[str, Any]:
    """The next `next` payload's data, skipping keep-alive pings."""
    async with asyncio.timeout(timeout_s):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            assert message["type"] == "next", message
            return message["payload"]["data"]


async def test_a_like_through_one_api_reaches_a_subscriber_of_the_other(
    apis: tuple[Api, Api], cluster: Cluster
) -> None:
    a, b = apis
    _, creator = await a.register("creator")
    _, reel = await insert_ready_reel(cluster.database_url, creator["id"])
    await replayed(b, REEL_ID, {"id": reel})
    async with subscribed(b, REEL_COUNTS, {"id": reel}) as ws:
        # The protocol does not say when a subscription is live upstream; a like flushed
        # before that is missed, so like again (as another fan) until one arrives.
        for sent in range(1, 4):
            token, _ = await a.register("fan")
            await a.like(token, reel)
            try:
                counts = (await next_data(ws, timeout_s=5))["reelCounts"]
            except TimeoutError:
                continue
            assert counts == {"reelId": reel, "likes": sent, "views": 0}
            return
    pytest.fail("no like reached the subscriber on the other API")


async def test_sockets_decline_per_message_compression(apis: tuple[Api, Api]) -> None:
    """Live-count frames are tiny and go to thousands of sockets at once: `reels serve` does not
    compress them per socket, even for a client that offers it (browsers and this client do)."""
    a, _ = apis
    async with connect(a.ws_url, subprotocols=["graphql-transport-ws"], compression="deflate") as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert ws.protocol.extensions == []
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"


async def test_a_follow_through_one_api_is_seen_at_once_through_the_other(apis: tuple[Api, Api]) -> None:
    a, b = apis
    fan_token, fan = await a.register("fan")
    _, star = await b.register("star")
    for user in (fan, star):
        await replayed(b, USER_ID, {"name": user["username"]})
    assert (await a.data(FOLLOW, {"id": star["id"]}, fan_token))["follow"]["userErrors"] == []
    assert (await b.data(PROFILE, {"name": star["username"]}, fan_token))["user"] == {
        "followerCount": 1,
        "viewerIsFollowing": True,
    }
    followers = (await b.data(FOLLOWERS, {"id": star["id"]}))["followers"]["edges"]
    assert [edge["node"]["username"] for edge in followers] == [fan["username"]]


async def test_killing_a_worker_mid_stream_loses_no_event(apis: tuple[Api, Api], cluster: Cluster) -> None:
    fans_per_api = 20
    a, b = apis
    _, creator = await a.register("creator")
    reel_id, reel = await insert_ready_reel(cluster.database_url, creator["id"])
    fans = await asyncio.gather(*(api.register("fan") for api in (a, b) for _ in range(fans_per_api)))
    for api in apis:
        await replayed(api, REEL_ID, {"id": reel})
    partition = partition_for(str(reel_id), DEFAULT_PARTITIONS)
    pids = {worker.pid: worker for worker in cluster.workers if worker.poll() is None}
    # The reel's partition must belong to a live worker: the one to kill.
    owner = await _wait_for(lambda: _owner_among(cluster.redis_url, partition, pids), 30, "a lease owner")
    victim = pids[owner]

    async def engage(n: int, token: str) -> None:
        api = (a, b)[n % 2]
        await api.like(token, reel)
        await api.view(token, reel)

    half = len(fans) // 2
    await asyncio.gather(*(engage(n, token) for n, (token, _) in enumerate(fans[:half])))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    await asyncio.gather(*(engage(n, token) for n, (token, _) in enumerate(fans[half:], start=half)))

    expected = {"likes": len(fans), "views": len(fans)}
    deadline = time.monotonic() + TAKEOVER_DEADLINE_S
    while (counts := [await api.counts(reel) for api in apis]) != [expected, expected]:
        assert all(c["likes"] <= expected["likes"] and c["views"] <= expected["views"] for c in counts), counts
        assert time.monotonic() < deadline, f"counts {counts}, not {expected}, {TAKEOVER_DEADLINE_S} s on"
        await asyncio.sleep(0.1)


async def _owner_among(redis_url: str, partition: int, pids: dict[int, subprocess.Popen]) -> int | None:
    """The pid of the live worker whose aggregator holds `partition`'s lease, if any."""
    consumer = (await lease_owners(redis_url))[partition]
    pid = int(consumer.split("-")[-2]) if consumer else None
    return pid if pid in pids else None


async def _wait_for(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (result := await check()) is not None:
            return result
        await asyncio.sleep(0.1)
    pytest.fail(f"{what}: not there within {timeout_s} s")
