"""For You feed latency: `feed(first: 20)` end to end over HTTP, a fresh session and a cached page.

    .venv/bin/python bench/feed.py [--users 100000] [--reels 1000000] [--events 10000000]
                                   [--viewers 200] [--pairs 5] [--requests 400] [--max-seconds 600]
                                   [--keep DIR]

--keep DIR keeps the world between runs: the first run makes it and saves it there (the Redis
data as DIR/redis.rdb, the PostgreSQL database's name in DIR/database.txt, or the SQLite file),
later runs with the same sizes measure on it at once. The database is not dropped: drop it by hand.

Setup (not measured): a world bulk-loaded straight into the database and the cache found by
bench/common.py (PostgreSQL at REELS_BENCH_DATABASE_URL, else SQLite; REELS_BENCH_REDIS_URL, else a
private redis-server): users with regions, creators (a fifth of the users) whose reels carry one of
500 hashtags, 10 follows per user, and watch events drawn with popular reels and tastes (stored in
`watch_events`, COPY on PostgreSQL). The feature store and the trending sets are filled from those
events as the aggregator would leave them (hashes and sorted sets written in pipelines). Then one
`reels serve` process and one `reels worker` process on them (the worker builds the next lists of
viewers paging near the end of theirs, as in production), and --viewers signed-in viewers, each
warmed with one feed request (their inbox is built, their session exists).

Measured, interleaved (A B C, A B C, ... --pairs times), one client, one request at a time:
A. the floor: one sorted-set range of 20 (ZRANGE on the global trending set) plus one SQL fetch of
   those 20 reels, from this process (what the cheapest feed page could cost);
B. a fresh session: `feed(first: 20)` without `after` (candidates, features, three heads or the
   heuristic, re-ranking, the list cached), half the viewers in turn;
C. a cached page: `feed(first: 20, after:)` a cursor of that viewer's session, the other half
   (the warm-up reads each such page once, which queues the viewer's next list for the worker,
   and waits until the worker has built them all: the measured reads queue nothing more).
Each side sends --requests requests per pair (bounded by --max-seconds a side). Ratios are per pair:
p50 of B or C over p50 of A.

Goals (issue #9): cached page p99 ≤ 25 ms, fresh session p99 ≤ 150 ms on the 2-core machine.

Last line (bench/common.py): {"bench": "feed", "value": <cached p99 ms>, "floor": <floor p99 ms>,
 "ratio": <median pairwise p50 ratio, cached/floor>, "fresh": {...}, "cached": {...}, "floor_ms": {...},
 "samples", "nproc", "load_avg"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from common import (
    alternate,
    database_service,
    emit,
    free_port,
    pairwise,
    percentiles,
    redis_service,
    save_redis,
    start_reels,
    stop_all,
    wait_healthy,
)
from redis.asyncio import Redis
from sqlalchemy import insert, select

from reels.db import create_engine, session_factory
from reels.domain import feed_features, feed_sessions, feed_trending
from reels.domain.accounts import issue_token
from reels.domain.models import Hashtag, Reel, ReelHashtag, User, WatchEvent
from reels.migrate import upgrade
from reels.ports.graph.sql import Follow
from reels.ports.kv import RedisKeyValue
from reels.ports.redis_client import connect
from reels.workers.aggregator import WATCH_COLUMNS

SECRET = "b" * 40
TOKEN_TTL_S = 24 * 3600
REGIONS = ["IN", "US", "BR", "ID", "NG", "DE", "JP", "MX"]
TAGS = 500
FOLLOWS_PER_USER = 10
CHUNK = 20_000
HALF_LIFE_S = 6 * 3600.0
FEED = (
    "query Feed($after: String) { feed(first: 20, after: $after) { edges { cursor reason { source score } "
    "node { id caption durationMs creator { username } } } pageInfo { hasNextPage endCursor } } }"
)
WORLD_FILE = "world.json"
LOADING_FILE = "loading"  # present while a kept world is being made
GOALS = {"cached_p99_ms": 25, "fresh_p99_ms": 150}
USER_ID0, REEL_ID0, TAG_ID0 = 10_000_000, 1_000_000_000_000, 5_000_000


# --- the world ----------------------------------------------------------------------------------


async def bulk(engine: Any, table: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL (bulk-loading is not what is measured), chunked INSERTs on SQLite."""
    if not rows:
        return
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.copy_records_to_table(table.name, records=rows, columns=columns)
            return
        for start in range(0, len(rows), CHUNK):
            await conn.execute(
                insert(table), [dict(zip(columns, row, strict=True)) for row in rows[start : start + CHUNK]]
            )


async def load_world(database_url: str, redis_urls: list[str], args: argparse.Namespace) -> list[int]:
    """Rows, and features and trending sets in each Redis; the ids of the viewers to measure with."""
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    users, reels, events = args.users, args.reels, args.events
    engine = create_engine(database_url)
    started = time.perf_counter()
    try:
        region = rng.integers(0, len(REGIONS), users)
        await bulk(
            engine,
            User.__table__,
            ["id", "username", "display_name", "bio", "region", "password_hash", "role", "created_at"],
            [(USER_ID0 + u, f"u{u}", f"u{u}", "", REGIONS[region[u]], "-", "USER", now) for u in range(users)],
        )
        await bulk(
            engine,
            Hashtag.__table__,
            ["id", "name", "reel_count", "created_at"],
            [(TAG_ID0 + t, f"tag{t}", 0, now) for t in range(TAGS)],
        )
        creators = max(1, users // 5)
        creator = np.minimum(rng.zipf(1.6, reels) - 1, creators - 1)
        tag = np.minimum(rng.zipf(1.3, reels) - 1, TAGS - 1)
        duration = rng.integers(5_000, 90_000, reels)
        age_s = np.sort(rng.uniform(0, 30 * 86400, reels))[::-1]  # ids grow with time: the newest last
        media = json.dumps(
            {
                "hls": "bench/hls/master.m3u8",
                "startup_segment": "bench/hls/v0/seg_000.m4s",
                "renditions": [
                    {"width": w, "height": h, "bandwidth": b, "playlist": f"bench/hls/v{i}/index.m3u8"}
                    for i, (w, h, b) in enumerate([(240, 426, 300_000), (480, 854, 1_000_000), (720, 1280, 3_000_000)])
                ],
            }
        )
        reel_rows = [
            (REEL_ID0 + r, USER_ID0 + int(creator[r]), f"reel {r} #tag{tag[r]}", "PUBLIC", "READY", int(duration[r]),
             720, 1280, 30.0, media, now - timedelta(seconds=float(age_s[r])), now)
            for r in range(reels)
        ]  # fmt: skip
        reel_columns = [
            "id", "creator_id", "caption", "visibility", "status", "duration_ms", "width", "height", "fps", "media",
            "created_at", "updated_at",
        ]  # fmt: skip
        if engine.dialect.name != "postgresql":  # JSON columns take Python values through SQLAlchemy
            reel_rows = [row[:9] + (json.loads(row[9]),) + row[10:] for row in reel_rows]
        await bulk(engine, Reel.__table__, reel_columns, reel_rows)
        await bulk(
            engine,
            ReelHashtag.__table__,
            ["reel_id", "hashtag_id"],
            [(REEL_ID0 + r, TAG_ID0 + int(tag[r])) for r in range(reels)],
        )
        followee = np.minimum(rng.zipf(1.5, (users, FOLLOWS_PER_USER)) - 1, creators - 1)
        follow_rows = {(USER_ID0 + u, USER_ID0 + int(f)) for u in range(users) for f in followee[u] if f != u}
        await bulk(
            engine, Follow.__table__, ["follower_id", "followee_id", "created_at"], [(*p, now) for p in follow_rows]
        )
        print(f"rows: {users:,} users, {reels:,} reels, {len(follow_rows):,} follows "
              f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip

        # Watch events: popular reels watched more; each viewer leans to a few hashtags.
        viewer = rng.integers(0, users, events)
        reel = np.minimum(rng.zipf(1.2, events) - 1, reels - 1)
        reel = reels - 1 - reel  # the newest reels are the popular ones
        watched = np.minimum(rng.exponential(12_000, events), duration[reel] * 2).astype(np.int64)
        completed = watched >= duration[reel]
        liked = completed & (rng.random(events) < 0.2)
        at = now.timestamp() - rng.uniform(0, np.minimum(age_s[reel], 7 * 86400))
        for start in range(0, events, 200_000):
            stop = min(start + 200_000, events)
            await bulk(
                engine,
                WatchEvent.__table__,
                list(WATCH_COLUMNS),  # the columns in the order the aggregator writes them
                [
                    (start + i + 1, REEL_ID0 + int(reel[i]), USER_ID0 + int(viewer[i]), None, int(watched[i]),
                     bool(completed[i]), bool(watched[i] >= 3000 or completed[i]), None,
                     datetime.fromtimestamp(float(at[i]), UTC))
                    for i in range(start, stop)
                ],
            )  # fmt: skip
        print(f"watch events: {events:,} ({time.perf_counter() - started:.0f} s)", flush=True)
        # Planner statistics, as a live database has them: without them the candidates' statements
        # on the 1M-reel tables (the newest 300, the hashtags of a list) took 0.2-0.7 s each.
        if engine.dialect.name == "postgresql":
            async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    for redis_url in redis_urls:
        await fill_features(redis_url, rng, now.timestamp(), reel, viewer, watched, completed, liked, at, duration,
                            tag, creator, region)  # fmt: skip
    print(f"features and trending written ({time.perf_counter() - started:.0f} s)", flush=True)
    return [USER_ID0 + int(u) for u in rng.choice(users, size=min(args.viewers, users), replace=False)]


async def fill_features(
    redis_url: str, rng: np.random.Generator, now: float, reel: np.ndarray, viewer: np.ndarray, watched: np.ndarray,
    completed: np.ndarray, liked: np.ndarray, at: np.ndarray, duration: np.ndarray, tag: np.ndarray,
    creator: np.ndarray, region: np.ndarray,
) -> None:  # fmt: skip
    """The hashes and trending sets the aggregator would have written for these events."""
    reels, users = len(duration), int(viewer.max()) + 1
    ratio = np.minimum(watched / duration[reel], 2.0)
    s3 = completed | (watched >= 3000)

    def per(index: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(index, weights=weights, minlength=size)

    reel_cols = {
        "events": per(reel, reels), "full": per(reel, reels, completed), "s3": per(reel, reels, s3),
        "watched": per(reel, reels), "watch_ratio": per(reel, reels, ratio), "liked": per(reel, reels, liked),
        "watch_s": per(reel, reels, watched / 1000),
    }  # fmt: skip
    for name, half_life in (("1d", 86400.0), ("7d", 7 * 86400.0), ("30d", 30 * 86400.0)):
        reel_cols[f"pop_{name}"] = per(reel, reels, 0.5 ** ((now - at) / half_life))
    decay = 0.5 ** ((now - at) / HALF_LIFE_S)
    reel_cols["trend_v"] = per(reel, reels, decay)
    reel_cols["trend_full"] = per(reel, reels, decay * completed)
    user_cols = {
        "events": per(viewer, users), "full": per(viewer, users, completed), "watched": per(viewer, users),
        "watch_ratio": per(viewer, users, ratio), "liked": per(viewer, users, liked),
        "skips": per(viewer, users, ~s3), "skip_s": per(viewer, users, np.where(s3, 0, watched / 1000)),
        "watch_s": per(viewer, users, watched / 1000),
    }  # fmt: skip
    pair = viewer.astype(np.int64) * TAGS + tag[reel]
    pairs, pair_counts = np.unique(pair, return_counts=True)
    pair_full = np.bincount(np.searchsorted(pairs, pair), weights=completed, minlength=len(pairs))
    client = connect(redis_url)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for r in np.flatnonzero(reel_cols["events"]):
                fields = {name: float(values[r]) for name, values in reel_cols.items()}
                pipe.hset(feed_features.reel_key(REEL_ID0 + int(r)), mapping={**fields, "pop_t": now, "trend_t": now})
                if len(pipe) >= CHUNK:
                    await pipe.execute()
            for u in np.flatnonzero(user_cols["events"]):
                pipe.hset(
                    feed_features.user_key(USER_ID0 + int(u)), mapping={n: float(v[u]) for n, v in user_cols.items()}
                )
                if len(pipe) >= CHUNK:
                    await pipe.execute()
            for key, count, full in zip(pairs.tolist(), pair_counts.tolist(), pair_full.tolist(), strict=True):
                user, t = divmod(key, TAGS)
                pipe.hset(feed_features.user_key(USER_ID0 + user), mapping={f"t:tag{t}:e": count, f"t:tag{t}:f": full})
                if len(pipe) >= CHUNK:
                    await pipe.execute()
            overall = {
                name: float(values.sum()) for name, values in reel_cols.items() if not name.startswith(("pop", "trend"))
            }
            overall |= {f"t:tag{t}:e": float(c) for t, c in enumerate(per(tag[reel], TAGS)) if c}
            pipe.hset(feed_features.GLOBAL_KEY, mapping=overall)
            creator_events = per(creator[reel], int(creator.max()) + 1)
            creator_full = per(creator[reel], int(creator.max()) + 1, completed)
            for c in np.flatnonzero(creator_events):
                pipe.hset(feed_features.creator_key(USER_ID0 + int(c)),
                          mapping={"events": float(creator_events[c]), "full": float(creator_full[c])})  # fmt: skip
                if len(pipe) >= CHUNK:
                    await pipe.execute()
            trending = [
                (r, math.log2(max(reel_cols["trend_v"][r] * (reel_cols["trend_full"][r] + 1.5)
                                  / (reel_cols["trend_v"][r] + 5.0), 1e-300)) + now / HALF_LIFE_S)
                for r in np.flatnonzero(reel_cols["events"] >= 5)
            ]  # fmt: skip
            trending.sort(key=lambda item: -item[1])
            best = trending[: feed_trending.KEPT]
            pipe.zadd(feed_trending.key(None), {str(REEL_ID0 + int(r)): s for r, s in best})
            for code, name in enumerate(REGIONS):
                regional = [(r, s) for r, s in trending if region[creator[r]] == code][: feed_trending.KEPT]
                if regional:
                    pipe.zadd(feed_trending.key(name), {str(REEL_ID0 + int(r)): s for r, s in regional})
            await pipe.execute()
    finally:
        await client.aclose()


# --- the measurements ---------------------------------------------------------------------------


def timed_feed(client: httpx.Client, token: str, after: str | None) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post(
        "/graphql", json={"query": FEED, "variables": {"after": after}}, headers={"Authorization": f"Bearer {token}"}
    )
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        sys.exit(f"feed failed: {response.status_code} {body}")
    return elapsed, body["data"]["feed"]


async def wait_for_lists_ahead(redis_url: str, viewers: list[int], timeout_s: float = 600) -> None:
    """Until the worker has put each viewer's next list (feed_sessions' list built ahead)."""
    kv = RedisKeyValue(connect(redis_url))
    deadline = time.monotonic() + timeout_s
    try:
        waiting = [feed_sessions.viewer_key(viewer, None) for viewer in viewers]
        while waiting:
            waiting = [owner for owner in waiting if owner and not await feed_sessions.has_ahead(kv, owner)]
            if time.monotonic() > deadline:
                sys.exit(f"the worker built no list ahead for {len(waiting)} viewers in {timeout_s:.0f} s")
            await asyncio.sleep(0.2)
    finally:
        await kv.close()


async def floor_requests(database_url: str, redis_url: str, count: int, max_seconds: float) -> list[float]:
    """The cheapest page: one ZRANGE of 20 and one SQL fetch of those 20 reels, per request."""
    client = Redis.from_url(redis_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    latencies: list[float] = []
    deadline = time.monotonic() + max_seconds
    try:
        for n in range(count):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            members = await client.zrange(feed_trending.key(None), (n % 50) * 20, (n % 50) * 20 + 19, desc=True)
            async with sessions() as session:
                rows = (await session.scalars(select(Reel).where(Reel.id.in_([int(m) for m in members])))).all()
            latencies.append((time.perf_counter() - started) * 1000)
            assert len(rows) == len(members)
    finally:
        await client.aclose()
        await engine.dispose()
    return latencies


def measure(args: argparse.Namespace, redis_url: str, database_url: str, viewers: list[int], logs: Path) -> None:
    port = free_port()
    env = {
        "REELS_DATABASE_URL": database_url, "REELS_REDIS_URL": redis_url, "REELS_DATA_DIR": str(logs),
        "REELS_SECRET_KEY": SECRET, "REELS_REQUESTS_PER_SECOND": "1000000", "REELS_REQUEST_BURST": "1000000",
        "REELS_ACCESS_LOG": "false",
    }  # fmt: skip
    log = logs / "serve.log"
    # A worker beside the API, as in production: it builds the lists viewers paging near the end
    # of theirs get next, and folds the impressions the pages log.
    processes = [
        start_reels(["serve", "--port", str(port)], env, log),
        start_reels(["worker"], env, logs / "worker.log"),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, processes, log)
        tokens = [issue_token(User(id=viewer), SECRET, TOKEN_TTL_S) for viewer in viewers]
        with httpx.Client(base_url=base, timeout=60) as client:
            # Half the viewers start sessions, the other half read a cached page: a viewer reading
            # pages near the end of a list gets the next list built ahead, and their next session
            # would start from it, so a fresh session is measured only on viewers who never page.
            fresh_tokens, cached_tokens = tokens[::2], tokens[1::2]
            cursors = [timed_feed(client, token, None)[1]["pageInfo"]["endCursor"] for token in tokens]  # warm-up
            cursors = cursors[1::2]
            # The first read of a cached viewer's page queues their next list for the worker (the
            # page is within ten reels of the list's end); later reads of it queue nothing. Those
            # builds are warm-up: wait for the worker to finish them, so the measured pages are
            # the steady state and not the worker's start-up burst on the same two cores.
            for token, cursor in zip(cached_tokens, cursors, strict=True):
                timed_feed(client, token, cursor)
            asyncio.run(wait_for_lists_ahead(redis_url, [viewer for viewer in viewers[1::2]]))
            fresh: list[float] = []
            cached: list[float] = []
            floors: list[float] = []
            pair_p50: dict[str, list[float]] = {"fresh": [], "cached": [], "floor": []}

            def side(name: str, latencies: list[float], run: Any) -> float:
                measured = run()
                latencies += measured
                pair_p50[name].append(statistics.median(measured))
                return statistics.median(measured)

            def fresh_run() -> list[float]:
                deadline = time.monotonic() + args.max_seconds
                out = []
                for n in range(args.requests):
                    if time.monotonic() > deadline:
                        break
                    out.append(timed_feed(client, fresh_tokens[n % len(fresh_tokens)], None)[0])
                return out

            def cached_run() -> list[float]:
                deadline = time.monotonic() + args.max_seconds
                out = []
                for n in range(args.requests):
                    if time.monotonic() > deadline:
                        break
                    n_viewer = n % len(cached_tokens)
                    out.append(timed_feed(client, cached_tokens[n_viewer], cursors[n_viewer])[0])
                return out

            def floor(_: int) -> float:
                return side("floor", floors, lambda: asyncio.run(
                    floor_requests(database_url, redis_url, args.requests, args.max_seconds)))  # fmt: skip

            def values(_: int) -> float:
                side("fresh", fresh, fresh_run)
                return side("cached", cached, cached_run)

            cached_p50s, floor_p50s = alternate(args.pairs, floor, values)
    finally:
        stop_all(processes)
    summary = pairwise(cached_p50s, floor_p50s, higher_is_better=False)
    fresh_ratios = [f / fl for f, fl in zip(pair_p50["fresh"], pair_p50["floor"], strict=True)]
    result = {
        "bench": "feed",
        **summary,
        "value": round(percentiles(cached)["p99"], 1),
        "floor": round(percentiles(floors)["p99"], 1),
        "cached": {**{f"{k}_ms": v for k, v in percentiles(cached).items()}, "samples": len(cached)},
        "fresh": {
            **{f"{k}_ms": v for k, v in percentiles(fresh).items()},
            "samples": len(fresh),
            "ratio_to_floor_p50": round(statistics.median(fresh_ratios), 2),
        },
        "floor_ms": {**percentiles(floors), "samples": len(floors)},
        "samples": len(cached) + len(fresh),
        "world": {"users": args.users, "reels": args.reels, "events": args.events, "viewers": len(viewers)},
        "database": database_url.split(":", 1)[0],
        "goals": GOALS,
        "meets_goals": percentiles(cached)["p99"] <= GOALS["cached_p99_ms"]
        and percentiles(fresh)["p99"] <= GOALS["fresh_p99_ms"],
    }
    print(f"fresh session p50 {result['fresh']['p50_ms']} / p99 {result['fresh']['p99_ms']} ms; cached page p50 "
          f"{result['cached']['p50_ms']} / p99 {result['cached']['p99_ms']} ms; floor p50 "
          f"{result['floor_ms']['p50']} / p99 {result['floor_ms']['p99']} ms", flush=True)  # fmt: skip
    emit(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--reels", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400, help="requests per side and pair")
    parser.add_argument("--max-seconds", type=float, default=600, help="time limit of one side of one pair")
    parser.add_argument(
        "--keep",
        type=Path,
        help="a folder keeping the world between runs: made and saved on the first run, reused after",
    )
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    with (
        redis_service(args.keep) as redis_url,
        database_service(args.keep) as database_url,
        tempfile.TemporaryDirectory() as folder,
    ):
        viewers = kept_world(args) if args.keep is not None else None
        upgrade(database_url)  # a kept world made by an older version takes the newer migrations
        if viewers is None:
            if args.keep is not None:
                (args.keep / LOADING_FILE).touch()
            viewers = asyncio.run(load_world(database_url, [redis_url], args))
            if args.keep is not None:
                asyncio.run(save_redis(redis_url))
                (args.keep / WORLD_FILE).write_text(json.dumps({"world": world_size(args), "viewers": viewers}))
                (args.keep / LOADING_FILE).unlink()
        measure(args, redis_url, database_url, viewers, Path(folder))


def world_size(args: argparse.Namespace) -> dict[str, int]:
    return {"users": args.users, "reels": args.reels, "events": args.events, "viewers": args.viewers}


def kept_world(args: argparse.Namespace) -> list[int] | None:
    """The viewers of the world kept in --keep, if it was made with these sizes; None: make it."""
    described = args.keep / WORLD_FILE
    if not described.exists():
        if (args.keep / LOADING_FILE).exists():
            sys.exit(f"{args.keep} holds an unfinished world: drop its database and empty the folder")
        return None
    kept = json.loads(described.read_text())
    if kept["world"] != world_size(args):
        sys.exit(f"{args.keep} holds a world of {kept['world']}, not {world_size(args)}: use another folder")
    print(f"reusing the world kept in {args.keep}: {kept['world']}", flush=True)
    return [int(viewer) for viewer in kept["viewers"]]


if __name__ == "__main__":
    main()
