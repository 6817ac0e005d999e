"""API throughput benchmark: GraphQL over HTTP through uvicorn, one `reels serve` process.

    .venv/bin/python bench/api.py [--pairs 5] [--requests 2000] [--connections 20] [--max-seconds 60]

Runs `reels serve` on Redis and a database found by bench/common.py (REELS_BENCH_REDIS_URL or a
private redis-server; PostgreSQL at REELS_BENCH_DATABASE_URL or a SQLite file), with the per-client
rate limit raised by setting (REELS_REQUESTS_PER_SECOND, REELS_REQUEST_BURST), every other limit
as shipped, and no access log (REELS_ACCESS_LOG=false; the floor's uvicorn writes none either).
Seeds a creator with reels and viewers with tokens.

The client is a raw asyncio HTTP/1.1 client on --connections keep-alive sockets, each sending
its next request as soon as the last answer is read (pre-encoded requests, responses read by
Content-Length, a byte check for "errors"), so the server is what is measured; the client's own
CPU time per request is reported beside each figure to show it. A run is bounded: --requests requests, or --max-seconds, whichever
comes first; the sample count is printed.

1. `{ __typename }`, floor and value interleaved (A B A B ..., --pairs pairs): the floor is a bare
   strawberry app (one field, strawberry's own ParserCache and ValidationCache extensions) served
   by uvicorn in its own process (`bench/api.py --serve-bare PORT`), the value `reels serve`.
2. At --connections clients, then at one client: a page of a signed-in viewer's cached feed session
   (`feed(first: 20, after:)` its first page's end cursor), a profile (`user(username)` with `reels(first: 10)`), `reel(id)` and
   `likeReel` (a distinct reel per like). Requests/s, p50 and p99 of each, and the server's CPU a
   request (from /proc).
3. The feed page at --connections clients against the bare app answering the same document with a
   page of the same shape built once in memory (no database, no cache, no token to check),
   interleaved in --pairs pairs: the rate no strawberry server passes for this page here, and
   each server's CPU a request.
4. Scaling with processes: `{ __typename }` and that feed page at --connections clients on
   `reels serve` (one process) and `reels serve --workers N` (--workers, default 2) on the same
   Redis and database, interleaved in --pairs pairs; `scaling` holds the median ratio of each
   (N processes / one). The client shares the machine's cores with the servers.

Last line (bench/common.py): {"bench": "api", "value": <typename req/s>, "floor": <bare req/s>,
 "ratio": <median of pairwise ratios>, "samples": <requests of the value runs>, "operations":
 {"feed": {"rps", "p50_ms", "p99_ms", "one_client_p99_ms", "of_floor", "server_cpu_ms_per_request", ...},
 ...}, "feed_page": {"value", "floor", "ratio", "server_cpu_ms", "bare_cpu_ms", ...}, "nproc", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import strawberry
import uvicorn
from common import (
    alternate,
    database_service,
    emit,
    free_port,
    pairwise,
    percentiles,
    process_cpu_s,
    redis_service,
    start_reels,
    stop_all,
    wait_healthy,
)
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from reels.db import create_engine, session_factory
from reels.domain.accounts import issue_token
from reels.domain.engagement import LIKES
from reels.domain.models import Reel, ReelStatus, User, Visibility
from reels.migrate import upgrade
from reels.schema.globalid import to_global_id

TYPENAME = "{ __typename }"
FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { message } } }"
REEL_FIELDS = (
    "id caption durationMs createdAt thumbnailUrl viewerHasLiked counts { likes views } creator { id username }"
)
# A page of a viewer's cached session: `after` the first page's end cursor (without `after`,
# each request would start a new session: pull to refresh, what bench/feed.py measures).
FEED = (
    f"query Feed($after: String) {{ feed(first: 20, after: $after) {{ edges {{ cursor node {{ {REEL_FIELDS} }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)
PROFILE = (
    "query Profile($username: String!) { user(username: $username) { id username displayName followerCount "
    f"reels(first: 10) {{ edges {{ node {{ {REEL_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
)
REEL = f"query Reel($id: ID!) {{ reel(id: $id) {{ {REEL_FIELDS} }} }}"
LIKE = "mutation Like($id: ID!) { likeReel(input: {reelId: $id}) { userErrors { message } } }"
GOALS = {"typename_of_floor": 0.5, "of_floor": 0.1, "rps": 300, "p99_ms": 100, "one_client_p99_ms": 25}
WARMUP_REQUESTS = 50
CLIENT_BUSY_WARNING = 0.5
SECRET = "a" * 40
TOKEN_TTL_S = 24 * 3600
LIKES_PER_LIKER = LIKES.burst - 5  # within one user's like burst, with room for refill rounding
OPERATIONS = ("feed", "profile", "reel", "like")


# --- the floor: a bare strawberry app -------------------------------------------------------------


@strawberry.type
class BareCounts:
    likes: int
    views: int


@strawberry.type
class BareCreator:
    id: strawberry.ID
    username: str


@strawberry.type
class BareReel:
    id: strawberry.ID
    caption: str
    duration_ms: int
    created_at: datetime
    thumbnail_url: str | None
    viewer_has_liked: bool
    counts: BareCounts
    creator: BareCreator


@strawberry.type
class BareEdge:
    cursor: str
    node: BareReel


@strawberry.type
class BarePageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class BareConnection:
    edges: list[BareEdge]
    page_info: BarePageInfo


def _bare_page() -> BareConnection:
    """A page shaped as the feed's, built once: what the server must render, with nothing to
    read and no one to authorize."""
    creator = BareCreator(id=strawberry.ID("VXNlcjox"), username="bench_creator")
    now = datetime.now(UTC)
    edges = [
        BareEdge(cursor=f"cursor{n}", node=BareReel(id=strawberry.ID(f"UmVlbDo{n:06d}"), caption=f"reel {n} #bench",
                 duration_ms=15_000, created_at=now, thumbnail_url=None, viewer_has_liked=False,
                 counts=BareCounts(likes=n, views=2 * n), creator=creator))
        for n in range(20)
    ]  # fmt: skip
    return BareConnection(edges=edges, page_info=BarePageInfo(has_next_page=True, end_cursor="cursor19"))


BARE_PAGE = _bare_page()


@strawberry.type
class BareQuery:
    hello: str = "world"

    @strawberry.field
    def feed(self, first: int, after: str | None = None) -> BareConnection:
        return BARE_PAGE


def serve_bare(port: int) -> None:
    schema = strawberry.Schema(query=BareQuery, extensions=[ParserCache, ValidationCache])
    uvicorn.run(GraphQL(schema), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- the client -----------------------------------------------------------------------------------


def encode(host: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> bytes:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, await reader.readexactly(int(headers[b"content-length"]))
    body = b""
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


@dataclass
class Run:
    latencies_ms: list[float]
    seconds: float
    client_cpu_s: float  # this process's CPU time during the run: the client's own cost

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds


async def load(port: int, requests: list[list[bytes]], max_seconds: float) -> Run:
    """One keep-alive connection per list, each sending its requests one after another."""
    latencies: list[float] = []
    deadline = time.perf_counter() + max_seconds
    errors: list[str] = []

    async def connection(own: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in own:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                writer.write(request)
                status, body = await read_response(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200 or b'"errors"' in body or b'"userErrors":[{' in body:
                    errors.append(f"{status} {body[:300]!r}")
                    return
        finally:
            writer.close()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(connection(own) for own in requests))
    elapsed, client_cpu = time.perf_counter() - started, time.process_time() - cpu
    if errors:
        sys.exit(f"the server answered with an error: {errors[0]}")
    return Run(latencies, elapsed, client_cpu)


def spread(requests: list[bytes], connections: int) -> list[list[bytes]]:
    return [requests[n::connections] for n in range(connections)]


# --- seeding ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    creator: str  # username
    reels: list[str]  # global ids
    viewers: list[str]  # tokens: one viewer per connection, and one for the single client
    cursors: dict[str, str]  # viewer token -> the end cursor of that viewer's first feed page
    likers: list[str]  # tokens, each used for at most LIKES_PER_LIKER likes (the per-user like limit)


def likers_needed(requests: int, connections: int) -> int:
    per_connection = -(-requests // connections)
    return connections * -(-per_connection // LIKES_PER_LIKER) + -(-requests // LIKES_PER_LIKER)


async def insert_world(database_url: str, reels: int, viewers: int, likers: int) -> tuple[World, str]:
    """Rows written directly (seeding is not what is measured); tokens as the API issues them."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            users = [
                User(username=f"bench_{uuid.uuid4().hex[:10]}", display_name="bench", password_hash="-")
                for _ in range(1 + viewers + likers)
            ]
            session.add_all(users)
            await session.flush()
            creator = users[0]
            rows = [
                Reel(creator_id=creator.id, caption=f"reel {n} #bench", status=ReelStatus.READY,
                     visibility=Visibility.PUBLIC, duration_ms=15_000, width=720, height=1280, fps=30.0, media={})
                for n in range(reels)
            ]  # fmt: skip
            session.add_all(rows)
            await session.commit()
    finally:
        await engine.dispose()
    await analyze(database_url)
    tokens = [issue_token(user, SECRET, TOKEN_TTL_S) for user in users[1:]]
    world = World(creator.username, [to_global_id("Reel", r.id) for r in rows], tokens[:viewers], {}, tokens[viewers:])
    return world, to_global_id("User", creator.id)


async def analyze(database_url: str) -> None:
    """Planner statistics, as a live database has them. Without them, after seeding, the feed
    page's read of 20 reels by id went through the status index, over every READY reel of the
    world (~2 ms of PostgreSQL's CPU a page, on the cores the API shares); and after the likes,
    whether the viewer likes each reel was a scan of the likes table, analyzed while empty."""
    if not database_url.startswith("postgresql"):
        return
    engine = create_engine(database_url)
    try:
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()


def seed(base: str, database_url: str, args: argparse.Namespace) -> World:
    likers = likers_needed(args.requests, args.connections)
    world, creator_id = asyncio.run(insert_world(database_url, args.requests, args.connections + 1, likers))
    with httpx.Client(base_url=base, timeout=60) as client:
        for token in world.viewers:  # their feeds then hold the creator's reels
            body = client.post("/graphql", json={"query": FOLLOW, "variables": {"id": creator_id}},
                               headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
            if body.get("errors") or body["data"]["follow"]["userErrors"]:
                sys.exit(f"follow failed: {body}")
        for token in world.viewers:  # each viewer's session, whose second page the bench asks for
            body = client.post("/graphql", json={"query": FEED, "variables": {"after": None}},
                               headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
            if body.get("errors") or not body["data"]["feed"]["pageInfo"]["hasNextPage"]:
                sys.exit(f"no feed session to page through: {body}")
            world.cursors[token] = body["data"]["feed"]["pageInfo"]["endCursor"]
    return world


# --- the measurements -------------------------------------------------------------------------------


def typename_pairs(args: argparse.Namespace, reels_port: int, bare_port: int) -> tuple[dict[str, Any], int]:
    def run(port: int) -> Run:
        request = encode(f"127.0.0.1:{port}", TYPENAME)
        return asyncio.run(load(port, spread([request] * args.requests, args.connections), args.max_seconds))

    run(bare_port), run(reels_port)  # warm both
    samples = []
    client_us = []
    client_busy = []  # share of one core the client used while driving the floor

    def floor(_: int) -> float:
        measured = run(bare_port)
        client_busy.append(measured.client_cpu_s / measured.seconds)
        return measured.rps

    def value(_: int) -> float:
        measured = run(reels_port)
        samples.append(len(measured.latencies_ms))
        client_us.append(measured.client_cpu_s / len(measured.latencies_ms) * 1e6)
        return measured.rps

    values, floors = alternate(args.pairs, floor, value)
    summary = pairwise(values, floors, higher_is_better=True)
    busy = max(client_busy)
    if busy > CLIENT_BUSY_WARNING:
        print(f"warning: the client used {busy:.0%} of a core driving the floor: the floor may be the client's limit")
    figures = {"client_cpu_us_per_request": round(statistics.median(client_us)), "client_busy_on_floor": round(busy, 2)}
    return {**summary, **figures}, sum(samples)


def operation_requests(name: str, host: str, world: World, token: str, count: int, first_liker: int) -> list[bytes]:
    """`count` requests of one operation; likes go to reel after reel, by a new liker (from
    `first_liker` on) every LIKES_PER_LIKER likes."""
    if name == "feed":
        return [encode(host, FEED, {"after": world.cursors[token]}, token)] * count
    if name == "profile":
        return [encode(host, PROFILE, {"username": world.creator}, token)] * count
    if name == "reel":
        return [encode(host, REEL, {"id": world.reels[n % len(world.reels)]}, token) for n in range(count)]
    likers = iter(world.likers[first_liker:])
    requests = []
    for n in range(count):
        if n % LIKES_PER_LIKER == 0:
            liker = next(likers)
        requests.append(encode(host, LIKE, {"id": world.reels[n]}, liker))
    return requests


def operations(args: argparse.Namespace, port: int, server_pid: int, world: World, floor_rps: float) -> dict[str, Any]:
    host = f"127.0.0.1:{port}"
    results: dict[str, Any] = {}
    for name in OPERATIONS:
        # One viewer per connection (likes are per viewer and reel); warm each viewer's session.
        per_connection = -(-args.requests // args.connections)
        likers_each = -(-per_connection // LIKES_PER_LIKER)
        crowd = [
            operation_requests(name, host, world, token, per_connection, n * likers_each)
            for n, token in enumerate(world.viewers[: args.connections])
        ]
        if name != "like":
            asyncio.run(load(port, [own[:WARMUP_REQUESTS] for own in crowd], args.max_seconds))
        cpu = process_cpu_s(server_pid)
        many = asyncio.run(load(port, crowd, args.max_seconds))
        server_cpu_s = process_cpu_s(server_pid) - cpu
        single = operation_requests(name, host, world, world.viewers[-1], args.requests, args.connections * likers_each)
        one = asyncio.run(load(port, [single], args.max_seconds))
        results[name] = {
            "rps": round(many.rps),
            **{f"{key}_ms": value for key, value in percentiles(many.latencies_ms).items()},
            "samples": len(many.latencies_ms),
            "one_client_rps": round(one.rps),
            "one_client_p50_ms": round(statistics.median(one.latencies_ms), 1),
            **{f"one_client_{key}_ms": value for key, value in percentiles(one.latencies_ms).items() if key != "p50"},
            "one_client_samples": len(one.latencies_ms),
            "of_floor": round(many.rps / floor_rps, 3),
            "client_cpu_us_per_request": round(many.client_cpu_s / len(many.latencies_ms) * 1e6),
            "server_cpu_ms_per_request": round(server_cpu_s / len(many.latencies_ms) * 1e3, 2),
        }
        shown = results[name]
        print(f"{name}: {shown['rps']:,} req/s at {args.connections} clients (p50 {shown['p50_ms']} ms, "
              f"p99 {shown['p99_ms']} ms, {shown['samples']:,} requests); one client p99 "
              f"{shown['one_client_p99_ms']} ms ({shown['one_client_samples']:,} requests); "
              f"{shown['of_floor']} x the bare floor; the server's CPU {shown['server_cpu_ms_per_request']} ms a "
              "request", flush=True)  # fmt: skip
    return results


def feed_crowd(host: str, world: World, args: argparse.Namespace) -> list[list[bytes]]:
    """--requests pages of the viewers' cached sessions, a viewer on each of --connections."""
    per_connection = -(-args.requests // args.connections)
    return [
        [encode(host, FEED, {"after": world.cursors[token]}, token)] * per_connection
        for token in world.viewers[: args.connections]
    ]


def feed_page_pairs(
    args: argparse.Namespace, ports: tuple[int, int], pids: tuple[int, int], world: World
) -> dict[str, Any]:
    """The feed page against the bare strawberry app rendering a page of the same shape from memory
    (no database, no cache, no token to check), at --connections clients, interleaved in --pairs
    pairs: the rate no strawberry server could pass for this page on this machine, and each
    server's CPU a request."""
    reels_port, bare_port = ports
    cpu_ms: dict[int, list[float]] = {reels_port: [], bare_port: []}
    samples: list[int] = []  # requests of each measured run

    def run(port: int, pid: int) -> float:
        crowd = feed_crowd(f"127.0.0.1:{port}", world, args)
        cpu = process_cpu_s(pid)
        measured = asyncio.run(load(port, crowd, args.max_seconds))
        cpu_ms[port].append((process_cpu_s(pid) - cpu) / len(measured.latencies_ms) * 1e3)
        samples.append(len(measured.latencies_ms))
        return measured.rps

    run(bare_port, pids[1])  # warm the floor (the feed's sessions are warm from `operations`)
    cpu_ms[bare_port].clear()
    samples.clear()
    values, floors = alternate(args.pairs, lambda _: run(bare_port, pids[1]), lambda _: run(reels_port, pids[0]))
    summary = pairwise(values, floors, higher_is_better=True)
    reels_cpu, bare_cpu = cpu_ms[reels_port], cpu_ms[bare_port]
    cpu_ratios = [mine / bare for mine, bare in zip(reels_cpu, bare_cpu, strict=True)]
    result = {**summary, "value": round(summary["value"]), "floor": round(summary["floor"]),
              "server_cpu_ms": round(statistics.median(reels_cpu), 2), "bare_cpu_ms": round(statistics.median(bare_cpu), 2),
              "cpu_ratio": round(statistics.median(cpu_ratios), 2), "samples": sum(samples)}  # fmt: skip
    print(f"feed page: reels {result['value']:,} req/s, the bare app's page from memory {result['floor']:,} req/s, "
          f"ratio {result['ratio']} ({result['ratio_min']}-{result['ratio_max']}); server CPU a request "
          f"{result['server_cpu_ms']} ms against {result['bare_cpu_ms']} ms", flush=True)  # fmt: skip
    return result


def scaling(args: argparse.Namespace, one_port: int, many_port: int, world: World) -> dict[str, Any]:
    """Requests/s of N processes against one, interleaved, for `{ __typename }` and the feed."""
    results: dict[str, Any] = {"processes": args.workers}
    for name in ("typename", "feed"):

        def run(port: int, name: str = name) -> float:
            host = f"127.0.0.1:{port}"
            if name == "typename":
                crowd = spread([encode(host, TYPENAME)] * args.requests, args.connections)
            else:
                crowd = feed_crowd(host, world, args)
            return asyncio.run(load(port, crowd, args.max_seconds)).rps

        run(many_port)  # warm every process
        values, floors = alternate(args.pairs, lambda _: run(one_port), lambda _: run(many_port))
        summary = pairwise(values, floors, higher_is_better=True)
        results[name] = {"one_rps": round(summary["floor"]), "many_rps": round(summary["value"]),
                         "ratio": summary["ratio"], "ratio_min": summary["ratio_min"], "ratio_max": summary["ratio_max"]}  # fmt: skip
        print(f"{name}: {args.workers} processes {summary['value']:,.0f} req/s, one {summary['floor']:,.0f} req/s, "
              f"ratio {summary['ratio']} ({summary['ratio_min']}-{summary['ratio_max']})", flush=True)  # fmt: skip
    return results


def _wait_processes(log: Path, count: int, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 180
    while log.read_text(errors="replace").count("Application startup complete") < count:
        if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
            stop_all(processes)
            sys.exit(f"reels serve --workers {count} did not start; see {log}")
        time.sleep(0.2)


def measure(args: argparse.Namespace, redis_url: str, database_url: str, logs: Path) -> dict[str, Any]:
    reels_port, bare_port = free_port(), free_port()
    env = {
        "REELS_DATABASE_URL": database_url, "REELS_REDIS_URL": redis_url, "REELS_DATA_DIR": str(logs),
        "REELS_SECRET_KEY": SECRET, "REELS_REQUESTS_PER_SECOND": "1000000", "REELS_REQUEST_BURST": "1000000",
        # Neither side writes an access log: the floor's uvicorn has none (bench/feed.py's neither).
        "REELS_ACCESS_LOG": "false",
    }  # fmt: skip
    reels_log, bare_log = logs / "serve.log", logs / "bare.log"
    with bare_log.open("ab") as out:
        bare = [_spawn_bare(bare_port, out)]
    processes = [start_reels(["serve", "--port", str(reels_port)], env, reels_log), *bare]
    try:
        wait_healthy(f"http://127.0.0.1:{reels_port}", processes, reels_log)
        _wait_bare(bare_port, processes, bare_log)
        world = seed(f"http://127.0.0.1:{reels_port}", database_url, args)
        typename, samples = typename_pairs(args, reels_port, bare_port)
        print(f"{{ __typename }}: reels {typename['value']:,.0f} req/s, bare strawberry {typename['floor']:,.0f} "
              f"req/s, ratio {typename['ratio']} ({typename['ratio_min']}-{typename['ratio_max']}, "
              f"{typename['pairs']} pairs, {samples:,} requests; the client spent "
              f"{typename['client_cpu_us_per_request']} µs of CPU a request)", flush=True)  # fmt: skip
        reels, bare_app = processes[0], processes[1]
        measured = operations(args, reels_port, reels.pid, world, typename["floor"])
        asyncio.run(analyze(database_url))  # the likes just written (what follows reads them)
        feed_page = feed_page_pairs(args, (reels_port, bare_port), (reels.pid, bare_app.pid), world)
        scaled = None
        if args.workers > 1:
            many_port, many_log = free_port(), logs / "serve-workers.log"
            processes.append(
                start_reels(["serve", "--port", str(many_port), "--workers", str(args.workers)], env, many_log)
            )
            _wait_processes(many_log, args.workers, processes)
            scaled = scaling(args, reels_port, many_port, world)
    finally:
        stop_all(processes)
    return {
        "bench": "api",
        **typename,
        "value": round(typename["value"]),
        "floor": round(typename["floor"]),
        "samples": samples,
        "connections": args.connections,
        "operations": measured,
        "feed_page": feed_page,
        "scaling": scaled,
        "goals": GOALS,
        "database": database_url.split("+", 1)[0],
    }


def _spawn_bare(port: int, out: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--serve-bare", str(port)], stdout=out, stderr=out)


def _wait_bare(port: int, processes: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"http://127.0.0.1:{port}/", json={"query": TYPENAME}).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_all(processes)
    sys.exit(f"the bare strawberry app did not start; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5, help="floor/value pairs of { __typename } (>= 5)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per run (>= 2,000 for a p99)")
    parser.add_argument("--connections", type=int, default=20, help="keep-alive connections")
    parser.add_argument("--max-seconds", type=float, default=60, help="bound on each run")
    parser.add_argument("--workers", type=int, default=2, help="processes of the scaling runs (1: none)")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    with redis_service() as redis_url, database_service() as database_url, tempfile.TemporaryDirectory() as logs:
        upgrade(database_url)
        try:
            result = measure(args, redis_url, database_url, Path(logs))
        except SystemExit:
            for log in sorted(Path(logs).glob("*.log")):
                sys.stderr.write(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}\n")
            raise
    emit(result)


if __name__ == "__main__":
    main()
