"""Read replicas: queries read from a streaming replica, a mutation's request reads its own
writes from the primary, and a replica that lags too far or goes away is skipped.

The primary and its replica are real PostgreSQL servers the test starts (tests/services/pg_replica.py).
Pausing the replica's WAL replay makes it visibly behind: what a query then cannot see, it
did not read from the primary.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.migrate import upgrade
from reels.settings import Settings
from tests.conftest import Api, insert_ready_reel, platform_of
from tests.services import wait_until
from tests.services.pg_replica import PgReplicaPair, on_server

pytestmark = pytest.mark.services

USER = "query User($name: String!) { user(username: $name) { username } }"
SEARCH = "query Search($q: String!) { search(query: $q) { users { username } } }"
REEL = "query Reel($id: ID!) { reel(id: $id) { caption hashtags { name } } }"
FEED = """query Feed($context: FeedContext, $session: String) {
  feed(first: 50, context: $context, sessionId: $session) { edges { node { id } } }
}"""
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
