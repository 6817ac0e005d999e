"""Instructions a request of each API operation costs: a change's effect, without the machine's drift.

    .venv/bin/python bench/instructions.py [--against COMMIT] [--requests 100] [--ops typename,feed,...]

Not a bench (no floor, no figures-table row): a tool for deciding whether a change to the
request path pays. On the project's machine a request's CPU time drifted by a quarter within
an hour, and old and new code alternated in one process still disagreed by ±15 % from one round
to the next, which hides changes of a few percent. The instructions the API process executes
for the same requests repeat to within about 1 % (2–3 % for `typename`, whose count is small;
the same checkout measured twice, 100 requests an operation).

Each checkout is measured in a process of its own under valgrind's callgrind (valgrind must be
installed; instrumentation is on only while the measured requests run, so seeding and start-up
cost nothing): the ASGI app is called directly (no HTTP client or server in the count), 20
requests at a time, on a fresh database (PostgreSQL at REELS_BENCH_DATABASE_URL, else SQLite)
and a private Redis, with the world and the documents of bench/api.py: `typename` (a signed-in
`{ __typename }`), `feed` (a page of a cached session), `profile`, `reel` (a different reel each
time, so its counts are not cached yet) and `like`. Each operation is first run --requests times
to warm it, then --requests times measured, the garbage collector tuned as `reels serve` tunes
it and emptied before each measured window. The process's own instructions are counted; the
database's and Redis's are not.

--against COMMIT measures that commit too (checked out in a temporary git worktree; its `reels`
package is imported instead of this checkout's, with this checkout's bench code, which must
still fit it) and prints the change of each operation.

Last line: {"tool": "instructions", "requests": N, "this": {op: instructions a request},
"against": {...}, "change": {op: fraction}}.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from common import database_service, redis_service

import api  # bench/api.py: the world and documents the API bench uses
from reels.http.app import create_app
from reels.settings import Settings
from reels.workers.runner import API_YOUNG_GC, tune_gc

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 20
OPERATIONS = ("typename", "feed", "profile", "reel", "like")


# --- the measured process -------------------------------------------------------------------------


def _control(*args: str) -> None:
    """callgrind_control on this process, polled: valgrind answers only while this process runs."""
    process = subprocess.Popen(
        ["callgrind_control", *args, str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while process.poll() is None:
        time.sleep(0.01)


async def _call(app: Any, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    received = False
    answer: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # the request is all read: nothing more comes
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            answer.append(message.get("body", b""))

    await app(scope, receive, send)
    result: dict[str, Any] = json.loads(b"".join(answer))
    if result.get("errors") or '"userErrors": [{' in json.dumps(result):
        sys.exit(f"the API answered with an error: {str(result)[:300]}")
    return result


async def _measure(operations: list[str], requests: int) -> None:
    """Seed a world, warm each operation, then count its instructions (callgrind dumps named
    after the operations)."""
    database_url = os.environ["REELS_DATABASE_URL"]
    reels = 2 * requests + 1  # a distinct reel for each `reel` request and each like
    likers = api.likers_needed(2 * requests, CONCURRENCY)
    world, creator_id = await api.insert_world(database_url, reels, CONCURRENCY, likers)
    app = create_app(Settings())
    liked = 0

    def documents(name: str, start: int) -> list[tuple[str, dict[str, Any], str]]:
        nonlocal liked
        made = []
        for n in range(start, start + requests):
            viewer = world.viewers[n % CONCURRENCY]
            if name == "typename":
                made.append((api.TYPENAME, {}, viewer))
            elif name == "feed":
                made.append((api.FEED, {"after": world.cursors[viewer]}, viewer))
            elif name == "profile":
                made.append((api.PROFILE, {"username": world.creator}, viewer))
            elif name == "reel":
                made.append((api.REEL, {"id": world.reels[n]}, viewer))
            else:
                made.append((api.LIKE, {"id": world.reels[liked]}, world.likers[liked // api.LIKES_PER_LIKER]))
                liked += 1
        return made

    async def run(made: list[tuple[str, dict[str, Any], str]]) -> None:
        waiting = list(reversed(made))

        async def client() -> None:
            while waiting:
                await _call(app, *waiting.pop())

        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))

    async with app.router.lifespan_context(app):
        for viewer in world.viewers:
            await _call(app, api.FOLLOW, {"id": creator_id}, viewer)
        for viewer in world.viewers:
            first = await _call(app, api.FEED, {"after": None}, viewer)
            world.cursors[viewer] = first["data"]["feed"]["pageInfo"]["endCursor"]
        for name in operations:
            await run(documents(name, 0))
        tune_gc(API_YOUNG_GC)  # as `reels serve` does once it has started
        for name in operations:
            measured = documents(name, requests)
            # Each window starts with no garbage left over: a full collection's pass over every
            # live object, falling in one window and not in another, was ±10 % of a like's count.
            gc.collect()
            _control("--instr=on")
            await run(measured)
            _control("--instr=off")
            _control(f"--dump={name}")


# --- the driver --------------------------------------------------------------------------------------


@contextmanager
def _checkout(commit: str) -> Any:
    """`commit` in a temporary git worktree."""
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


def _count(source: Path, operations: list[str], requests: int) -> dict[str, int]:
    """Instructions a request of each operation, with `source`'s `reels` package."""
    with ExitStack() as services, tempfile.TemporaryDirectory() as folder:
        redis_url = services.enter_context(redis_service())
        database_url = services.enter_context(database_service())
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(source), str(ROOT / "bench")]),
            "PYTHONHASHSEED": "0",
            "REELS_DATABASE_URL": database_url,
            "REELS_REDIS_URL": redis_url,
            "REELS_DATA_DIR": folder,
            "REELS_SECRET_KEY": api.SECRET,  # what bench/api.py signs its tokens with
            "REELS_REQUESTS_PER_SECOND": "1000000",
            "REELS_REQUEST_BURST": "1000000",
        }
        # The measured checkout's own migrations (run from its folder: `-c` puts the working
        # directory first on the path, ahead of PYTHONPATH).
        migrate = f"from reels.migrate import upgrade; upgrade({database_url!r})"
        subprocess.run([sys.executable, "-c", migrate], env=env, check=True, cwd=source)
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, __file__, "--measure", "--requests", str(requests), "--ops", ",".join(operations),
        ]  # fmt: skip
        log = Path(folder) / "valgrind.log"
        with log.open("wb") as written:
            if subprocess.run(command, env=env, stdout=written, stderr=written).returncode != 0:
                sys.exit(f"the measured process failed:\n{log.read_text(errors='replace')[-3000:]}")
        counts = {}
        for dump in Path(folder).glob("callgrind.out.*"):
            text = dump.read_text(errors="replace")
            name = text.split("desc: Trigger: dump ", 1)[-1].split("\n", 1)[0]
            totals = next(line for line in text.splitlines() if line.startswith("totals:"))
            counts[name] = round(int(totals.split()[1]) / requests)
        missing = set(operations) - counts.keys()
        if missing:
            sys.exit(f"no count for {sorted(missing)}; see {log}")
        return {name: counts[name] for name in operations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="COMMIT", help="measure this commit too, and print the change")
    parser.add_argument("--requests", type=int, default=100, help="measured requests an operation")
    parser.add_argument("--ops", default=",".join(OPERATIONS), help="comma-separated, of: " + ", ".join(OPERATIONS))
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    operations = args.ops.split(",")
    if unknown := set(operations) - set(OPERATIONS):
        parser.error(f"unknown operations: {sorted(unknown)}")
    if args.measure:
        asyncio.run(_measure(operations, args.requests))
        return
    result: dict[str, Any] = {"tool": "instructions", "requests": args.requests}
    result["this"] = _count(ROOT, operations, args.requests)
    if args.against:
        with _checkout(args.against) as tree:
            result["against"] = _count(tree, operations, args.requests)
        result["change"] = {name: round(result["this"][name] / result["against"][name] - 1, 4) for name in operations}
    for name in operations:
        line = f"{name}: {result['this'][name]:,} instructions a request"
        if args.against:
            line += f" against {result['against'][name]:,} at {args.against} ({result['change'][name]:+.1%})"
        print(line, flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
