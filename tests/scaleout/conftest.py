"""A deployment in miniature: two `reels serve` and two `reels worker` processes on one
PostgreSQL database (alone, or a primary with a streaming replica to read from), one Redis and
one Bolt graph server, each process with its own log file (their tails are attached to a
failing test's report)."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reels.migrate import upgrade
from reels.ports.queue.base import DEFAULT_PARTITIONS
from reels.ports.redis_client import connect
from reels.settings import Settings
from tests.services import free_port, stop, wait_until
from tests.services.falkordb import running_falkordb
from tests.services.pg_replica import ReplicatedDatabase
from tests.services.redis import running_redis

FLUSH_INTERVAL_MS = 100
LOG_TAIL_CHARS = 4000


@dataclass
class Cluster:
    api_urls: list[str]
    workers: list[subprocess.Popen]
    database_url: str
    redis_url: str
    logs: Path

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-LOG_TAIL_CHARS:]}"
            for path in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture(scope="module", params=["redis", "redis-cluster", "replica"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Ready when both APIs answer /healthz and the workers' aggregators lease every partition;
    once on one Redis, once on a 3-master Redis Cluster, and once reading from a streaming
    replica of the PostgreSQL primary (on a Redis of its own)."""
    # A FalkorDB for each deployment: the processes close their drivers when they stop, after
    # which FalkorDB hangs a later connection (see tests/services/falkordb.py).
    if request.param != "replica":
        postgres_url = request.getfixturevalue("postgres_server_url")
        redis_url = request.getfixturevalue("redis_url" if request.param == "redis" else "redis_cluster_url")
        with running_falkordb() as bolt_url:
            yield from _deployment(postgres_url, redis_url, bolt_url, tmp_path_factory)
        return
    database: ReplicatedDatabase = request.getfixturevalue("replicated_database")
    with running_redis() as (_, redis_url), running_falkordb() as bolt_url:
        yield from _deployment(database.primary_url, redis_url, bolt_url, tmp_path_factory, database)


def _deployment(
    postgres_url: str,
    redis_url: str,
    bolt_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    replicated: ReplicatedDatabase | None = None,
) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("scaleout")
    upgrade(Settings(database_url=postgres_url).resolved_database_url)
    env = {
        **os.environ,
        "REELS_DATABASE_URL": postgres_url,
        "REELS_REDIS_URL": redis_url,
        "REELS_NEO4J_URL": bolt_url,
        "REELS_SECRET_KEY": "scale-out-" + "s" * 40,
        "REELS_FLUSH_INTERVAL_MS": str(FLUSH_INTERVAL_MS),
        "REELS_DATA_DIR": str(data_dir),
        # All test traffic comes from one address; the per-client HTTP limit is not under test.
        "REELS_REQUESTS_PER_SECOND": "100000",
        "REELS_REQUEST_BURST": "100000",
        "REELS_REGISTRATIONS_PER_HOUR": "100000",
    }
    if replicated is not None:
        replicated.pair.wait_replayed()  # the replica has the tables before any process reads there
        env["REELS_DATABASE_REPLICA_URLS"] = replicated.replica_url
    ports = [free_port(), free_port()]
    commands = [["serve", "--port", str(port)] for port in ports] + [["worker"], ["worker"]]
    processes: list[subprocess.Popen] = []
    cluster = Cluster([f"http://127.0.0.1:{port}" for port in ports], [], postgres_url, redis_url, data_dir)
    try:
        for n, command in enumerate(commands):
            with open(data_dir / f"{n}-{command[0]}.log", "wb") as log:
                processes.append(
                    subprocess.Popen([sys.executable, "-m", "reels.cli", *command], env=env, stdout=log, stderr=log)
                )
        cluster.workers = processes[2:]
        for port, process in zip(ports, processes, strict=False):
            wait_until(functools.partial(_healthy, port), 60, f"reels serve on port {port}", process)
        wait_until(lambda: asyncio.run(_all_partitions_leased(redis_url)), 60, "the aggregators", processes[2])
    except BaseException:
        for process in processes:
            stop(process)
        sys.stderr.write(cluster.log_tails())
        raise
    try:
        yield cluster
    finally:
        for process in processes:
            stop(process)


def _healthy(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200


async def lease_owners(redis_url: str) -> dict[int, str | None]:
    """Partition -> the aggregator holding its lease (`aggregator-<host>-<pid>-0`), if any."""
    client = connect(redis_url)
    try:
        return {p: await client.get(f"lease:aggregator:{p}") for p in range(DEFAULT_PARTITIONS)}
    finally:
        await client.aclose()


async def _all_partitions_leased(redis_url: str) -> bool:
    return all((await lease_owners(redis_url)).values())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report = yield
    cluster = getattr(item, "funcargs", {}).get("cluster")
    if report.when == "call" and report.failed and isinstance(cluster, Cluster):
        report.sections.append(("process logs", cluster.log_tails()))
    return report
