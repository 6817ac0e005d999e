"""An API with engagement running, on the embedded setup and on Redis + PostgreSQL + a Bolt graph
(and, for the tests that ask, on a Redis Cluster or with a PostgreSQL read replica)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.migrate import upgrade
from reels.settings import Settings
from tests.conftest import LOCAL_CLIENT, Api
from tests.services.falkordb import running_falkordb
from tests.services.pg_replica import ReplicatedDatabase

# Every test registers from one address, and the services variant shares one Redis for the session.
# The scheduled jobs run when a test runs them: scoring in the background would flag the scripted
# accounts of other tests mid-way and change their counts.
# The feed's scoring budget is generous: on a busy test machine a missed budget would serve the
# trending order, which the feed's tests tell apart from a ranked one.
FAST = {
    "flush_interval_ms": 50,
    "maintenance_interval_s": 3600,
    "registrations_per_hour": 100_000,
    "engagement_scoring_interval_s": 86_400,
    "analytics_interval_s": 86_400,
    "feed_score_budget_ms": 10_000,
}


# The Redis of each services setup: one Redis, or the session's 3-master Redis Cluster; with
# "services-replica", queries read from a streaming replica of the PostgreSQL primary. Tests that
# should also hold on those ask for them with `on_every_setup`.
REDIS_URL_FIXTURES = {
    "services": "redis_url",
    "services-cluster": "redis_cluster_url",
    "services-replica": "redis_url",
}
on_every_setup = pytest.mark.parametrize(
    "engagement_settings", ["embedded", "services", "services-cluster", "services-replica"], indirect=True
)


@pytest.fixture(params=["embedded", "services"])
def engagement_settings(
    request: pytest.FixtureRequest, embedded_settings: Settings, tmp_path: Path
) -> Iterator[Settings]:
    """The embedded setup, or Redis (or a Redis Cluster) + PostgreSQL (or a primary and its read
    replica) + a Bolt graph server. Each services test gets a FalkorDB of its own: it hangs a
    connection made after another driver closed (see tests/services/falkordb.py), and every app
    closes its driver."""
    if request.param == "embedded":
        yield embedded_settings.model_copy(update=FAST)
        return
    redis_url = request.getfixturevalue(REDIS_URL_FIXTURES[request.param])
    replicated: ReplicatedDatabase | None = None
    if request.param == "services-replica":
        replicated = request.getfixturevalue("replicated_database")
        postgres_url = replicated.primary_url
    else:
        postgres_url = request.getfixturevalue("postgres_server_url")
    with running_falkordb() as bolt_url:
        settings = Settings(
            data_dir=tmp_path / "services",
            database_url=postgres_url,
            database_replica_urls=replicated.replica_url if replicated else "",
            redis_url=redis_url,
            neo4j_url=bolt_url,
            secret_key="s" * 40,
            **FAST,
        )
        upgrade(settings.resolved_database_url)
        if replicated is not None:
            replicated.pair.wait_replayed()  # the replica has the tables before the app reads there
        yield settings


@pytest.fixture
def live_api(engagement_settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(engagement_settings, run_workers=True), client=LOCAL_CLIENT) as client:
        yield Api(client)


def unique(prefix: str) -> str:
    """Usernames unique across tests that share one PostgreSQL database."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def eventually(check: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    """Poll `check` until it returns a truthy value (returned) or time runs out (its last
    AssertionError, or a failure, is raised)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(0.02)
