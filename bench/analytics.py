"""Analytics jobs benchmark: the five per-day jobs over one day of generated activity.

    .venv/bin/python bench/analytics.py [--days 7] [--watches 50000] [--likes 10000] [--pairs 5]

Seeds --days UTC days of activity (each: --watches watch events, 80 % counted, --likes likes,
reels carrying hashtags and sounds, reports) into a fresh database (PostgreSQL at
REELS_BENCH_DATABASE_URL, else SQLite), then times, interleaved, for one day at a time:

- value: `daily_counts`, `top_creators`, `hashtag_popularity`, `trending_sounds` and
  `report_rates` computing that day (reels.domain.analytics, each in its own transaction, as a
  run does);
- floor: one pass over the same day's engagement rows, the least any job reading them can do
  (`count(*)` and `sum(watched_ms)` of the day's watch events, `count(*)` of its likes).

Wall-clock seconds (the work happens in the database server). Prints as the LAST line:
{"bench": "analytics", "value": <s per day>, "floor": <s>, "ratio": ..., "samples": <pairs>, ...}
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from common import alternate, database_service, emit, pairwise
from sqlalchemy import func, insert, select

from reels.db import create_engine, session_factory
from reels.domain import analytics
from reels.domain.models import (
    Audio,
    Hashtag,
    Like,
    Reel,
    ReelHashtag,
    ReelStatus,
    Report,
    ReportReason,
    User,
    WatchEvent,
)
from reels.migrate import upgrade

CHUNK = 5000
JOBS = (
    analytics.daily_counts,
    analytics.creator_watch_time,
    analytics.hashtag_popularity,
    analytics.trending_sounds,
    analytics.report_rates,
)


def _id_in(day: date, rng: random.Random, taken: set[int]) -> int:
    bounds = analytics.Day(day)
    while (found := rng.randrange(bounds.first_id, bounds.end_id)) in taken:
        pass
    taken.add(found)
    return found


async def _insert(sessions: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with sessions.begin() as session:
            await session.execute(insert(model), rows[start : start + CHUNK])


async def seed(sessions: Any, days: list[date], args: argparse.Namespace) -> None:
    rng, taken = random.Random(7), set[int]()
    first = days[0]
    users = [
        {"id": _id_in(first, rng, taken), "username": f"u{n}", "display_name": f"u{n}", "password_hash": "-"}
        for n in range(2000)
    ]
    await _insert(sessions, User, users)
    creators = [user["id"] for user in users[:200]]
    sounds = [
        {"id": _id_in(first, rng, taken), "title": f"sound {n}", "creator_id": rng.choice(creators)} for n in range(100)
    ]
    tags = [{"id": _id_in(first, rng, taken), "name": f"tag{n}"} for n in range(50)]
    await _insert(sessions, Audio, sounds)
    await _insert(sessions, Hashtag, tags)
    reels: list[int] = []
    liked: set[tuple[int, int]] = set()
    for day in days:
        day_reels = [
            {
                "id": _id_in(day, rng, taken),
                "creator_id": rng.choice(creators),
                "status": ReelStatus.READY,
                "audio_id": rng.choice(sounds)["id"],
            }
            for _ in range(300)
        ]
        await _insert(sessions, Reel, day_reels)
        links = {(reel["id"], tag["id"]) for reel in day_reels for tag in rng.sample(tags, 2)}
        await _insert(sessions, ReelHashtag, [{"reel_id": r, "hashtag_id": t} for r, t in links])
        reels += [reel["id"] for reel in day_reels]
        start = analytics.Day(day).start
        watches = [
            {
                "id": _id_in(day, rng, taken),
                "reel_id": rng.choice(reels),
                "viewer_id": rng.choice(users)["id"],
                "watched_ms": rng.randrange(500, 30_000),
                "completed": False,
                "counted": rng.random() < 0.8,
                "created_at": start + timedelta(seconds=rng.randrange(86_400)),
            }
            for _ in range(args.watches)
        ]
        await _insert(sessions, WatchEvent, watches)
        likes = {(rng.choice(reels), rng.choice(users)["id"]) for _ in range(args.likes)} - liked
        liked |= likes  # one like per reel and user
        when = [start + timedelta(seconds=rng.randrange(86_400)) for _ in likes]
        await _insert(
            sessions,
            Like,
            [{"reel_id": r, "user_id": u, "created_at": t} for (r, u), t in zip(likes, when, strict=True)],
        )
        reports = [
            {"id": _id_in(day, rng, taken), "reel_id": rng.choice(reels), "reporter_id": rng.choice(users)["id"],
             "reason": rng.choice(list(ReportReason))}
            for _ in range(200)
        ]  # fmt: skip
        await _insert(sessions, Report, reports)
        print(f"seeded {day}: {args.watches:,} watches, {len(likes):,} likes", flush=True)


async def floor_pass(sessions: Any, day: date) -> None:
    bounds = analytics.Day(day)
    async with sessions() as session:
        await session.execute(select(func.count(), func.sum(WatchEvent.watched_ms)).where(bounds.ids(WatchEvent.id)))
        await session.scalar(select(func.count()).where(Like.created_at >= bounds.start, Like.created_at < bounds.end))


async def jobs_pass(sessions: Any, day: date) -> None:
    for job in JOBS:
        async with sessions.begin() as session:
            await job(session, day)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--watches", type=int, default=50_000)
    parser.add_argument("--likes", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(args.days, 0, -1)]
    with database_service() as url:
        upgrade(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(seed(sessions, days, args))

            def timed(work: Any) -> Any:
                def run(n: int) -> float:
                    started = time.perf_counter()
                    loop.run_until_complete(work(sessions, days[n % len(days)]))
                    return time.perf_counter() - started

                return run

            values, floors = alternate(args.pairs, timed(floor_pass), timed(jobs_pass))
        finally:
            loop.run_until_complete(engine.dispose())
            loop.close()
    emit(
        {
            "bench": "analytics",
            **pairwise(values, floors, higher_is_better=False),
            "samples": len(values),
            "details": f"{args.watches:,} watches and {args.likes:,} likes a day, {args.days} days held; "
            f"{url.split(':')[0]}",
        }
    )


if __name__ == "__main__":
    main()
