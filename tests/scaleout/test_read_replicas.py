"""Read replicas: queries read from a streaming replica, a mutation's request and every
subscription read from the primary (their own writes, and the writes events tell of), and a
replica that lags too far or goes away is skipped.

The primary and its replica are real PostgreSQL servers the test starts (tests/services/pg_replica.py).
Pausing the replica's WAL replay makes it visibly behind: what a query then cannot see, it
did not read from the primary.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from reels.domain import events, lifecycle
from reels.domain.events import ReelStatusChanged
from reels.domain.models import Reel, ReelStatus
from reels.domain.unit_of_work import unit_of_work
from reels.http.app import create_app
from reels.migrate import upgrade
from reels.platform import Platform
from reels.schema.globalid import to_global_id
from reels.settings import Settings
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.pipeline.helpers import poll
from tests.services import wait_until
from tests.services.pg_replica import PgReplicaPair, on_server

pytestmark = pytest.mark.services

USER = "query User($name: String!) { user(username: $name) { username } }"
SEARCH = "query Search($q: String!) { search(query: $q) { users { username } } }"
REEL = "query Reel($id: ID!) { reel(id: $id) { caption hashtags { name } } }"
FEED = """query Feed($context: FeedContext, $session: String) {
  feed(first: 50, context: $context, sessionId: $session) { edges { node { id } } }
}"""
STATUS = "query Status($id: ID!) { reel(id: $id) { status } }"
REEL_STATUS = "subscription Status($id: ID!) { reelStatus(reelId: $id) { status } }"
UPDATE_REEL = """
mutation Update($input: UpdateReelInput!) {
  updateReel(input: $input) { reel { caption hashtags { name } } userErrors { message } }
}"""


def on_replica(pair: PgReplicaPair, sql: str) -> None:
    on_server(pair.replica.url, sql)


@pytest.fixture
def api(pg_replica_pair: PgReplicaPair, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=pg_replica_pair.primary.url,
        database_replica_urls=pg_replica_pair.replica.url,
        # Generous, so a paused replica keeps serving until the test lowers the limit.
        replica_max_lag_s=60,
        secret_key="s" * 32,
    )
    upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings, run_workers=False)) as client:
        yield Api(client)


def register(api: Api, name: str) -> tuple[str, dict[str, Any]]:
    return api.register(name)


def found(api: Api, name: str) -> bool:
    return api.data(USER, {"name": name})["user"] is not None


def test_reads_go_to_the_replica_and_writes_read_themselves_back(api: Api, pg_replica_pair: PgReplicaPair) -> None:
    token, alice = register(api, "alice")
    reel_id = insert_ready_reel(api, alice["id"], caption="first take")
    wait_until(lambda: api.data(REEL, {"id": reel_id})["reel"] is not None, 20, "the replica to replay the reel")

    on_replica(pg_replica_pair, "SELECT pg_wal_replay_pause()")
    try:
        # The payload's hashtags are loaded after the write, in the mutation's request: from the primary.
        payload = api.data(UPDATE_REEL, {"input": {"reelId": reel_id, "caption": "now #fresh"}}, token)["updateReel"]
        assert payload["reel"]["hashtags"] == [{"name": "fresh"}], payload
        # Queries read the paused replica, which has not seen the new caption nor bob.
        assert api.data(REEL, {"id": reel_id})["reel"] == {"caption": "first take", "hashtags": []}
        register(api, "bob")
        assert not found(api, "bob")
        assert api.data(SEARCH, {"q": "bob"})["search"]["users"] == []

        # Too far behind: skipped at the next check, reads go to the primary.
        platform_of(api).read_replicas.max_lag_s = 0.2
        wait_until(lambda: found(api, "bob"), 20, "reads to move to the primary")
        assert api.data(SEARCH, {"q": "bob"})["search"]["users"] == [{"username": "bob"}]
        assert api.data(REEL, {"id": reel_id})["reel"] == {"caption": "now #fresh", "hashtags": [{"name": "fresh"}]}
    finally:
        on_replica(pg_replica_pair, "SELECT pg_wal_replay_resume()")


def test_a_replica_that_goes_away_is_skipped(api: Api, pg_replica_pair: PgReplicaPair) -> None:
    register(api, "carol")
    wait_until(lambda: found(api, "carol"), 20, "the replica to replay carol")
    replicas = platform_of(api).read_replicas
    assert replicas.sessions() is not replicas.primary  # the replica is in use

    pg_replica_pair.stop(pg_replica_pair.replica, "immediate")
    try:
        wait_until(lambda: replicas.sessions() is replicas.primary, 20, "the lost replica to be skipped")
        for _ in range(5):  # every read now answers, from the primary
            assert found(api, "carol")
            assert api.data(SEARCH, {"q": "carol"})["search"]["users"] == [{"username": "carol"}]
        register(api, "dave")
        assert found(api, "dave")
    finally:
        pg_replica_pair.start(pg_replica_pair.replica)
    wait_until(lambda: replicas.sessions() is not replicas.primary, 30, "the replica to be used again")
    wait_until(lambda: found(api, "dave"), 20, "the replica to catch up")


def feed_ids(api: Api, token: str | None = None, region: str | None = None) -> set[str]:
    """One first page of For You; a new session each time, so nothing is left out as served."""
    variables = {"context": {"region": region} if region else None, "session": uuid.uuid4().hex}
    return {edge["node"]["id"] for edge in api.data(FEED, variables, token)["feed"]["edges"]}


def test_feed_candidates_come_from_the_replica_and_a_lost_replica_is_skipped(
    api: Api, pg_replica_pair: PgReplicaPair
) -> None:
    _, erin = register(api, "erin")
    viewer_token, _ = register(api, "frank")  # no region yet: his first feed request names one
    replayed = insert_ready_reel(api, erin["id"])
    wait_until(lambda: replayed in feed_ids(api), 20, "the replica to replay the first reel")
    replicas = platform_of(api).read_replicas

    on_replica(pg_replica_pair, "SELECT pg_wal_replay_pause()")
    stopped = False
    try:
        newer = insert_ready_reel(api, erin["id"])  # on the primary; the paused replica has not seen it
        for token in (None, viewer_token):
            ids = feed_ids(api, token, region="IN")
            assert replayed in ids and newer not in ids, ids  # fresh candidates read on the replica
        # The region default is a write: it went to the primary (a replica refuses writes).
        assert on_server(pg_replica_pair.primary.url, "SELECT region FROM users WHERE username = $1", "frank") == "IN"

        pg_replica_pair.stop(pg_replica_pair.replica, "immediate")  # goes away mid-run
        stopped = True
        wait_until(lambda: replicas.sessions() is replicas.primary, 20, "the lost replica to be skipped")
        for token in (None, viewer_token):
            assert {replayed, newer} <= feed_ids(api, token), "the feed reads the primary now"
    finally:
        if stopped:
            pg_replica_pair.start(pg_replica_pair.replica)  # a restart replays again (no pause survives it)
        else:
            on_replica(pg_replica_pair, "SELECT pg_wal_replay_resume()")
    wait_until(lambda: replicas.sessions() is not replicas.primary, 30, "the replica to be used again")


async def insert_processing_reel(platform: Platform, creator_id: int) -> int:
    async with platform.sessions() as session:
        reel = Reel(creator_id=creator_id, status=ReelStatus.PROCESSING)
        session.add(reel)
        await session.commit()
    return reel.id


async def announce_processing(platform: Platform, reel_id: int) -> None:
    """A status event saying what the reel already is: a subscriber re-reads it and answers."""
    await events.publish(platform.pubsub, ReelStatusChanged(reel_id, ReelStatus.PROCESSING))


async def finish_processing(platform: Platform, reel_id: int) -> None:
    """PROCESSING → READY the way the media worker does it, on the primary, its event published."""
    media = lifecycle.ReadyMedia(
        duration_ms=2_000,
        width=720,
        height=1280,
        fps=30.0,
        manifest={"hls": "reels/test/hls/master.m3u8", "thumbnail": "reels/test/thumb.jpg"},
        has_own_sound=False,
    )
    async with unit_of_work(platform.sessions, platform.queue, platform.pubsub) as work:
        reel = await work.session.get(Reel, reel_id)
        assert reel is not None
        assert await lifecycle.mark_ready(work, reel, media, replicate=False)


class Socket:
    """A graphql-transport-ws socket whose messages a thread sorts by operation, so the test
    waits for an operation's next one with a deadline (the test client's receive blocks)."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._messages: dict[str, queue.Queue[dict[str, Any]]] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(anyio.ClosedResourceError, WebSocketDisconnect):  # the test left the socket
            while True:
                message = self._ws.receive_json()
                if message.get("id") in self._messages:
                    self._messages[message["id"]].put(message)

    def start(self, operation_id: str, query: str, variables: dict[str, Any]) -> None:
        self._messages[operation_id] = queue.Queue()
        self._ws.send_json(
            {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    def next_data(self, operation_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The data of the operation's next result within `timeout_s`; None if none came."""
        try:
            message = self._messages[operation_id].get(timeout=timeout_s)
        except queue.Empty:
            return None
        assert message["type"] == "next" and "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data


@contextlib.contextmanager
def socket(api: Api, token: str) -> Iterator[Socket]:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"token": token}})
        assert ws.receive_json()["type"] == "connection_ack"
        yield Socket(ws)


def status_event(socket: Socket, timeout_s: float) -> str | None:
    data = socket.next_data("status", timeout_s)
    return None if data is None else data["reelStatus"]["status"]


def test_a_subscriber_reads_the_write_its_event_tells_of(api: Api, pg_replica_pair: PgReplicaPair) -> None:
    token, gina = register(api, "gina")
    reel_id = run(api, insert_processing_reel, platform_of(api), db_id(gina["id"]))
    variables = {"id": to_global_id("Reel", reel_id)}
    pg_replica_pair.wait_replayed()
    replicas = platform_of(api).read_replicas
    wait_until(lambda: replicas.sessions() is not replicas.primary, 20, "the replica to be in use")

    on_replica(pg_replica_pair, "SELECT pg_wal_replay_pause()")
    try:
        with socket(api, token) as live:
            live.start("status", REEL_STATUS, variables)
            # Live once an event reaches it (the protocol does not say when a subscription is).
            poll(
                lambda: run(api, announce_processing, platform_of(api), reel_id) or status_event(live, 0.2),
                "a live subscription",
            )
            run(api, finish_processing, platform_of(api), reel_id)
            # The paused replica still has it PROCESSING (read there, the subscriber would be told
            # so and then wait for an event that never comes): the subscription reads the primary.
            # Events of the announcements above may come first.
            poll(lambda: status_event(live, 0.5) == "READY", "the subscriber to be told READY", deadline_s=20)
            # Only the subscription: a query over the same socket still reads the replica.
            live.start("query", STATUS, variables)
            assert live.next_data("query", 20) == {"reel": {"status": "PROCESSING"}}
    finally:
        on_replica(pg_replica_pair, "SELECT pg_wal_replay_resume()")
