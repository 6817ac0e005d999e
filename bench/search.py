"""Search latency at scale: `reels.domain.search` (users by prefix and with typos, reels by
caption words, sounds by title words) against the floor of one indexed `LIKE 'prefix%'` on
the same data in the same run.

The data: `--users` accounts and `--reels` READY public reels (one sound per ten reels), with
usernames, display names, captions and titles drawn from a generated vocabulary, bulk-inserted
after `reels migrate` (so the search indexes of migration 0008 are the ones measured). Then
`--pairs` alternated pairs (floor, then the search), each of `--requests / --pairs` queries of
each side, one at a time: the queries cycle through a username prefix, a username with two
letters swapped, two caption words and a title word. The headline is the search's p99 in
milliseconds over every query; each pair's ratio is its p99 against the floor's p99.

Runs on PostgreSQL when REELS_BENCH_DATABASE_URL names a server (a scratch database is made
and dropped), else on SQLite. The goal (issue 11): p99 ≤ 50 ms at 1M users and 1M reels on
PostgreSQL.

    .venv/bin/python bench/search.py                                  # 1M users, 1M reels
    .venv/bin/python bench/search.py --users 20000 --reels 20000 --pairs 2 --requests 200   # does it work?
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from itertools import cycle
from pathlib import Path
from typing import Any

from common import alternate, check_pairs, database_service, emit, pairwise, percentiles
from sqlalchemy import insert, select, text

from reels.domain import search
from reels.domain.ids import new_id
from reels.domain.models import Audio, Reel, ReelStatus, User, Visibility
from reels.migrate import upgrade
from reels.platform import Platform
from reels.settings import Settings

BATCH = 5_000
VOCABULARY = 5_000
GOAL_MS = 50.0
PAGE = 10
ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "st"]
NUCLEI = ["a", "e", "i", "o", "u", "ai", "ou"]


def vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(ONSETS) + rng.choice(NUCLEI) for _ in range(rng.randint(2, 4))))
    return sorted(words)


async def load(platform: Platform, users: int, reels: int, rng: random.Random, words: list[str]) -> list[str]:
    """Bulk-insert the data set; the usernames, to query by."""
    names = [f"{rng.choice(words)}{rng.choice(words)}{n}"[:30] for n in range(users)]
    user_ids = [new_id() for _ in range(users)]
    async with platform.sessions.begin() as session:
        for start in range(0, users, BATCH):
            rows = [
                {"id": user_ids[n], "username": names[n], "display_name": f"{rng.choice(words)} {rng.choice(words)}",
                 "bio": "", "password_hash": "-", "role": "USER"}
                for n in range(start, min(users, start + BATCH))
            ]  # fmt: skip
            await session.execute(insert(User), rows)
        sounds = max(1, reels // 10)
        audio_ids = [new_id() for _ in range(sounds)]
        for start in range(0, sounds, BATCH):
            rows = [
                {"id": audio_ids[n], "title": " ".join(rng.choice(words) for _ in range(3)).title(),
                 "creator_id": rng.choice(user_ids), "use_count": 10}
                for n in range(start, min(sounds, start + BATCH))
            ]  # fmt: skip
            await session.execute(insert(Audio), rows)
        for start in range(0, reels, BATCH):
            rows = [
                {"id": new_id(), "creator_id": rng.choice(user_ids), "status": ReelStatus.READY,
                 "visibility": Visibility.PUBLIC, "audio_id": rng.choice(audio_ids),
                 "caption": " ".join(rng.choice(words) for _ in range(rng.randint(3, 8)))}
                for _ in range(start, min(reels, start + BATCH))
            ]  # fmt: skip
            await session.execute(insert(Reel), rows)
            if start % 100_000 == 0:
                print(f"loaded {start + len(rows):,} reels", flush=True)
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("ANALYZE"))
    return names


def swapped(name: str, rng: random.Random) -> str:
    """The name with two neighbouring letters swapped: a typo."""
    at = rng.randrange(1, max(2, len(name) - 1))
    return name[: at - 1] + name[at] + name[at - 1] + name[at + 1 :]


def queries(names: list[str], words: list[str], rng: random.Random) -> Callable[[], tuple[str, str]]:
    kinds = cycle(["prefix", "typo", "caption", "title"])

    def next_query() -> tuple[str, str]:
        kind = next(kinds)
        name = rng.choice(names)
        return kind, {
            "prefix": name[:4],
            "typo": swapped(name, rng),
            "caption": f"{rng.choice(words)} {rng.choice(words)}",
            "title": rng.choice(words),
        }[kind]

    return next_query


def measure(loop: asyncio.AbstractEventLoop, count: int, one: Callable[[], Awaitable[Any]], into: list[float]) -> float:
    """Run `one` `count` times, one at a time; append each latency (ms) to `into`; the p99."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        loop.run_until_complete(one())
        latencies.append((time.perf_counter() - started) * 1000)
    into.extend(latencies)
    return percentiles(latencies, digits=3)["p99"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--reels", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2_000, help="queries of each side, over all pairs")
    args = parser.parse_args()
    check_pairs(args.pairs)
    rng = random.Random(11)
    words = vocabulary(rng)
    loop = asyncio.new_event_loop()
    with database_service() as url, tempfile.TemporaryDirectory() as data_dir:
        upgrade(url)
        settings = Settings(data_dir=Path(data_dir), database_url=url, secret_key="b" * 40)
        platform = loop.run_until_complete(Platform.start(settings))
        try:
            started = time.monotonic()
            names = loop.run_until_complete(load(platform, args.users, args.reels, rng, words))
            print(f"loaded in {time.monotonic() - started:,.0f} s", flush=True)
            next_query = queries(names, words, rng)
            per_side = max(1, args.requests // args.pairs)
            floor_ms: list[float] = []
            value_ms: list[float] = []
            by_kind: dict[str, list[float]] = {}

            async def floor() -> None:
                # The generated names are letters and digits: nothing to escape in the pattern.
                statement = (
                    select(User.id, User.username)
                    .where(User.username.like(rng.choice(names)[:4] + "%"))
                    .order_by(User.username)
                    .limit(PAGE)
                )
                async with platform.sessions() as session:
                    (await session.execute(statement)).all()

            async def value() -> None:
                kind, query = next_query()
                began = time.perf_counter()
                if kind in ("prefix", "typo"):
                    await search.users(platform.sessions, platform.graph, query, PAGE)
                elif kind == "caption":
                    await search.reels(platform.sessions, query, PAGE, None)
                else:
                    await search.audio(platform.sessions, query, PAGE, None)
                by_kind.setdefault(kind, []).append((time.perf_counter() - began) * 1000)

            values, floors = alternate(
                args.pairs,
                lambda _: measure(loop, per_side, floor, floor_ms),
                lambda _: measure(loop, per_side, value, value_ms),
            )
            dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
        finally:
            loop.run_until_complete(platform.close())
    summary = pairwise(values, floors, higher_is_better=False)
    emit({
        "bench": "search",
        **summary,
        "value": round(percentiles(value_ms, digits=3)["p99"], 2),
        "floor": round(percentiles(floor_ms, digits=3)["p99"], 2),
        **percentiles(value_ms, prefix="search_", digits=2),
        **percentiles(floor_ms, prefix="floor_", digits=2),
        "kinds_p99": {kind: round(percentiles(ms, digits=3)["p99"], 2) for kind, ms in by_kind.items()},
        "users": args.users,
        "reels": args.reels,
        "database": dialect,
        "goal_ms": GOAL_MS,
        "samples": len(value_ms),
    })  # fmt: skip


if __name__ == "__main__":
    main()
