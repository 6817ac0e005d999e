"""Search latency at scale: `reels.domain.search` (users by prefix and with typos, reels by
caption words, sounds by title words) against the floor of one indexed `LIKE 'prefix%'` on
the same data in the same run.

The data: `--users` accounts and `--reels` READY public reels (one sound per ten reels, view
and like counts with a long tail), with real-looking text: names from Faker's US first and last
names at their frequencies (usernames shaped jane.doe, jdoe, jane_doe87, ...; display names
"Jane Doe"), captions and sound titles from its English word list with a Zipf distribution.
It is bulk-loaded (COPY on PostgreSQL) before search's migration, which then builds its indexes
over it. Then `--pairs` alternated pairs (floor, then the search), each of `--requests /
--pairs` queries of each side, one at a time: the queries cycle through a username's first four
letters, a username with two letters swapped, a username's first seven letters with one wrong,
two caption words and a title word. The headline is the search's p99 in
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
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from itertools import accumulate, cycle
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.script import ScriptDirectory
from common import alternate, check_pairs, database_service, emit, pairwise, percentiles
from faker.providers.lorem import en_US as lorem
from faker.providers.person import en_US as person
from sqlalchemy import column, insert, select
from sqlalchemy import table as sql_table
from sqlalchemy.ext.asyncio import create_async_engine

from reels.domain import search
from reels.domain.ids import new_id
from reels.domain.models import User
from reels.migrate import alembic_config, upgrade
from reels.platform import Platform
from reels.settings import Settings

BATCH = 20_000
SEARCH_REVISION = "0008"  # the migration that makes search's indexes
GOAL_MS = 50.0
PAGE = 10
NAME_PART = re.compile(r"^[a-z]+$")


class Vocabulary:
    """Real-looking text: Faker's US first and last names with their frequencies, and its English
    word list with a Zipf distribution (a few words are common, most are rare), as real
    usernames and captions repeat their parts."""

    def __init__(self) -> None:
        def parts(weighted: dict[str, float]) -> tuple[list[str], list[float]]:
            kept = {name.lower(): weight for name, weight in weighted.items() if NAME_PART.match(name.lower())}
            return list(kept), list(accumulate(kept.values()))

        self.first, self.first_weights = parts(person.Provider.first_names)
        self.last, self.last_weights = parts(person.Provider.last_names)
        self.words = list(lorem.Provider.word_list)
        random.Random(0).shuffle(self.words)  # the list is alphabetical: ranks by a fixed shuffle
        self.word_weights = list(accumulate(1 / rank for rank in range(1, len(self.words) + 1)))

    def person(self, rng: random.Random) -> tuple[str, str]:
        first = rng.choices(self.first, cum_weights=self.first_weights)[0]
        last = rng.choices(self.last, cum_weights=self.last_weights)[0]
        return first, last

    def text(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.word_weights, k=count)


def username(first: str, last: str, rng: random.Random) -> str:
    """The shapes people pick: jane.doe, janedoe, jdoe, jane_doe87, doejane, jane1994."""
    shape = rng.randrange(6)
    name = [f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}", f"{first}_{last}", f"{last}{first}", first][shape]
    if shape >= 3 or rng.random() < 0.3:
        name += str(rng.choice([rng.randrange(100), rng.randrange(1960, 2012)]))
    return name[:26]


def generate(vocabulary: Vocabulary, users: int, reels: int, rng: random.Random) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of each table, as tuples in the column order of `COLUMNS`."""
    now = datetime.now(UTC)
    taken: set[str] = set()
    user_rows = []
    for _ in range(users):
        first, last = vocabulary.person(rng)
        name = username(first, last, rng)
        while name in taken:  # a taken name gets digits, as sign-up would suggest
            name = f"{name[:26]}{rng.randrange(10_000)}"
        taken.add(name)
        user_rows.append((new_id(), name, f"{first.title()} {last.title()}", "", "-", "USER", now))
    creators = [row[0] for row in user_rows]
    audio_rows = [
        (new_id(), " ".join(vocabulary.text(rng, rng.randint(2, 4))).title(), rng.choice(creators), 10, now)
        for _ in range(max(1, reels // 10))
    ]
    sounds = [row[0] for row in audio_rows]
    reel_rows = []
    count_rows = []
    for _ in range(reels):
        reel_id = new_id()
        words = vocabulary.text(rng, rng.randint(3, 12))
        caption = " ".join(f"#{word}" if rng.random() < 0.1 else word for word in words)
        reel_rows.append((reel_id, rng.choice(creators), caption, "PUBLIC", "READY", rng.choice(sounds), now, now))
        views = int(rng.paretovariate(1.2) * 10)  # a long tail: most reels seen a little, a few a lot
        count_rows.append((reel_id, views // 20, views, views // 100, views // 200))
    return {"users": user_rows, "audio": audio_rows, "reels": reel_rows, "reel_counts": count_rows}


COLUMNS = {
    "users": ["id", "username", "display_name", "bio", "password_hash", "role", "created_at"],
    "audio": ["id", "title", "creator_id", "use_count", "created_at"],
    "reels": ["id", "creator_id", "caption", "visibility", "status", "audio_id", "created_at", "updated_at"],
    "reel_counts": ["reel_id", "likes", "views", "comments", "shares"],
}


def load(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Migrate up to search's migration, bulk-load the rows, then run it (and the rest): its
    indexes are built over the data as `reels migrate` builds them on a live database, which
    is much faster than growing them row by row. COPY (then ANALYZE) on PostgreSQL, batched
    inserts on SQLite (where the migration fills the FTS tables)."""
    config = alembic_config(url)
    command.upgrade(config, ScriptDirectory.from_config(config).get_revision(SEARCH_REVISION).down_revision)
    asyncio.run(_copy(url, rows) if url.startswith("postgresql") else _insert(url, rows))
    upgrade(url)
    if url.startswith("postgresql"):
        asyncio.run(_analyze(url))


async def _copy(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for table, columns in COLUMNS.items():
            await conn.copy_records_to_table(table, records=rows[table], columns=columns)
            print(f"copied {len(rows[table]):,} {table}", flush=True)
    finally:
        await conn.close()


async def _analyze(url: str) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _insert(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for table, columns in COLUMNS.items():
                for start in range(0, len(rows[table]), BATCH):
                    batch = [dict(zip(columns, row, strict=True)) for row in rows[table][start : start + BATCH]]
                    # The columns the rows have (later migrations add others, with defaults).
                    await conn.execute(insert(sql_table(table, *(column(name) for name in columns))), batch)
    finally:
        await engine.dispose()


def swapped(name: str, rng: random.Random) -> str:
    """The name with two neighbouring letters swapped: a typo."""
    at = rng.randrange(1, max(2, len(name) - 1))
    return name[: at - 1] + name[at] + name[at - 1] + name[at + 1 :]


def misspelt_start(name: str, rng: random.Random) -> str:
    """The first letters of the name as typed so far, one of them wrong."""
    typed = name[:7]
    at = rng.randrange(1, len(typed))
    return typed[:at] + rng.choice([c for c in "aeiourstln" if c != typed[at]]) + typed[at + 1 :]


def queries(names: list[str], vocabulary: Vocabulary, rng: random.Random) -> Callable[[], tuple[str, str]]:
    kinds = cycle(["prefix", "typo", "typing", "caption", "title"])

    def next_query() -> tuple[str, str]:
        kind = next(kinds)
        name = rng.choice(names)
        return kind, {
            "prefix": name[:4],
            "typo": swapped(name, rng),
            "typing": misspelt_start(name, rng),
            "caption": " ".join(vocabulary.text(rng, 2)),
            "title": vocabulary.text(rng, 1)[0],
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
    vocabulary = Vocabulary()
    started = time.monotonic()
    rows = generate(vocabulary, args.users, args.reels, rng)
    names = [row[1] for row in rows["users"]]
    print(f"generated in {time.monotonic() - started:,.0f} s", flush=True)
    loop = asyncio.new_event_loop()
    with database_service() as url, tempfile.TemporaryDirectory() as data_dir:
        started = time.monotonic()
        load(url, rows)
        del rows
        print(f"loaded in {time.monotonic() - started:,.0f} s", flush=True)
        settings = Settings(data_dir=Path(data_dir), database_url=url, secret_key="b" * 40)
        platform = loop.run_until_complete(Platform.start(settings))
        try:
            next_query = queries(names, vocabulary, rng)
            per_side = max(1, args.requests // args.pairs)
            floor_ms: list[float] = []
            value_ms: list[float] = []
            by_kind: dict[str, list[float]] = {}

            async def floor() -> None:
                # No ORDER BY: the prefix index (text_pattern_ops) serves LIKE but not the
                # collation's order, and search's own prefix lookups take rows as it yields them.
                statement = (
                    select(User.id, User.username)
                    .where(User.username.startswith(rng.choice(names)[:4], autoescape=True))
                    .limit(PAGE)
                )
                async with platform.sessions() as session:
                    (await session.execute(statement)).all()

            async def value() -> None:
                kind, query = next_query()
                began = time.perf_counter()
                if kind in ("prefix", "typo", "typing"):
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
