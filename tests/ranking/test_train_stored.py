"""`reels train` from the platform's stored watch events, publishing versioned artifacts."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from reels.cli import app
from reels.domain import keys
from reels.domain.keys import EMBEDDINGS_ARTIFACT, INDEX_ARTIFACT, RANKER_ARTIFACT
from reels.domain.models import FeedImpression, Like, Reel, ReelStatus, User, WatchEvent
from reels.domain.training import reel_category, stored_table
from reels.migrate import upgrade
from reels.platform import Platform
from reels.ports.graph.sql import Follow
from reels.ranking import (
    FEATURE_NAMES,
    Embeddings,
    EventTable,
    ItemIndex,
    LearnedRanker,
    SimulatedLog,
    SimulatorConfig,
    read_export,
    simulate,
)
from reels.settings import Settings

runner = CliRunner()
WORLD = SimulatorConfig(users=60, reels=120, days=5, seed=5)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def _store(settings: Settings, log: SimulatedLog) -> tuple[dict[str, int], dict[str, int]]:
    """The simulated world as the platform would have stored it: users, READY reels with a
    hashtag per category, follows, likes and every watch event; the users' and reels' ids."""
    names = sorted({event.user_id for event in log.events} | {item.creator_id or "" for item in log.items} - {""})
    user_ids = {name: 1000 + number for number, name in enumerate(names)}
    reel_ids = {item.item_id: 100_000 + number for number, item in enumerate(log.items)}
    platform = await Platform.start(settings)
    try:
        async with platform.sessions.begin() as session:
            await session.execute(
                insert(User),
                [
                    {"id": i, "username": name, "display_name": name, "password_hash": "x"}
                    for name, i in user_ids.items()
                ],
            )
            await session.execute(
                insert(Reel),
                [
                    {
                        "id": reel_ids[item.item_id],
                        "creator_id": user_ids[item.creator_id or ""],
                        "caption": f"fresh #{item.category} #extra",
                        "status": ReelStatus.READY,
                        "duration_ms": item.duration_ms,
                    }
                    for item in log.items
                ],
            )
            await session.execute(
                insert(Follow),
                [
                    {"follower_id": user_ids[viewer], "followee_id": user_ids[creator], "created_at": _moment(0)}
                    for viewer, creator in log.follows
                    if viewer in user_ids
                ],
            )
            liked = {(event.user_id, event.item_id): event.timestamp for event in log.events if event.liked}
            await session.execute(
                insert(Like),
                [
                    {"reel_id": reel_ids[item], "user_id": user_ids[user], "created_at": _moment(at)}
                    for (user, item), at in liked.items()
                ],
            )
            await session.execute(
                insert(WatchEvent),
                [
                    {
                        "reel_id": reel_ids[event.item_id],
                        "viewer_id": user_ids[event.user_id],
                        "watched_ms": round((event.watch_ratio or 0.0) * (event.duration_ms or 0)),
                        "completed": (event.watch_ratio or 0.0) >= 1.0,
                        "counted": True,
                        "created_at": _moment(event.timestamp),
                    }
                    for event in log.events
                ],
            )
    finally:
        await platform.close()
    return user_ids, reel_ids


@pytest.fixture
def fresh_postgres(postgres_server_url: str) -> Iterator[str]:
    """A database of this test's own, migrated: training reads every stored event, so the
    session's shared database (other tests' events in it) would not do."""
    server, name = postgres_server_url.rsplit("/", 1)[0], f"reels_train_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(postgres_server_url, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    upgrade(Settings(database_url=f"{server}/{name}").resolved_database_url)
    yield f"{server}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["embedded", "postgresql"])
def platform_env(request: pytest.FixtureRequest, embedded_settings: Settings) -> tuple[Settings, dict[str, str]]:
    """Settings to seed with, and the same as the environment the CLI reads."""
    environment = {"REELS_DATA_DIR": str(embedded_settings.data_dir)}
    if request.param == "embedded":
        return embedded_settings, environment
    url = request.getfixturevalue("fresh_postgres")
    secret = "s" * 40
    settings = Settings(data_dir=embedded_settings.data_dir, database_url=url, secret_key=secret)
    return settings, environment | {"REELS_DATABASE_URL": url, "REELS_SECRET_KEY": secret}


def test_train_reads_stored_events_and_publishes_a_version(platform_env: tuple[Settings, dict[str, str]]) -> None:
    settings, environment = platform_env
    log = simulate(WORLD)
    asyncio.run(_store(settings, log))

    result = runner.invoke(app, ["train"], env=environment)

    assert result.exit_code == 0, result.output
    assert f"trained on {len(log.events)} events from stored watch events and impressions" in result.stdout
    media = Path(settings.data_dir) / "media"
    version = (media / keys.RANKER_CURRENT_KEY).read_text()
    assert f"published ranker version {version}" in result.stdout
    ranker = LearnedRanker.from_bytes((media / keys.ranker_artifact_key(version, RANKER_ARTIFACT)).read_bytes())
    embeddings = Embeddings.from_bytes((media / keys.ranker_artifact_key(version, EMBEDDINGS_ARTIFACT)).read_bytes())
    assert ranker.version == embeddings.version == version
    index = ItemIndex.from_bytes((media / keys.ranker_artifact_key(version, INDEX_ARTIFACT)).read_bytes(), embeddings)
    assert index.kind == "exact"  # a small catalogue: below the approximate index's threshold
    assert ranker.training_rows > len(log.events) // 10
    # Users are keyed by account id, reels by reel id, so serving can look them up.
    assert set(embeddings.item_ids) == {str(100_000 + number) for number in range(len(log.items))}
    assert {int(user) for user in embeddings.user_ids} <= set(range(1000, 1000 + WORLD.users + len(log.items)))
    scores = ranker.score(np.zeros((3, len(FEATURE_NAMES)), np.float32))
    assert scores.shape == (3,) and np.isfinite(scores).all()

    # A second run publishes a newer version and moves the pointer; the old one stays.
    again = runner.invoke(app, ["train"], env=environment)
    assert again.exit_code == 0, again.output
    newer = (media / keys.RANKER_CURRENT_KEY).read_text()
    assert newer > version and (media / keys.ranker_artifact_key(version, RANKER_ARTIFACT)).exists()


def test_served_reels_never_watched_are_negatives(platform_env: tuple[Settings, dict[str, str]]) -> None:
    """An impression of a reel the viewer never watched enters the log once, as a watch of 0 s; an
    impression of a reel they did watch adds nothing (its watch event is the example)."""
    settings, _ = platform_env
    log = simulate(WORLD)
    user_ids, reel_ids = asyncio.run(_store(settings, log))
    viewer = log.events[0].user_id
    seen = {event.item_id for event in log.events if event.user_id == viewer}
    unseen = next(item.item_id for item in log.items if item.item_id not in seen)
    served_at = log.events[-1].timestamp + 60

    async def serve_and_read() -> EventTable:
        platform = await Platform.start(settings)
        try:
            async with platform.sessions.begin() as session:
                await session.execute(
                    insert(FeedImpression),
                    [
                        {"reel_id": reel_ids[item], "viewer_id": user_ids[viewer], "feed_session": 7,
                         "position": position, "source": "TRENDING", "score": 1.0,
                         "created_at": _moment(served_at + position)}
                        for position, item in enumerate([log.events[0].item_id, unseen, unseen])
                    ],
                )  # fmt: skip
            return await stored_table(platform.sessions, platform.graph)
        finally:
            await platform.close()

    table = asyncio.run(serve_and_read())

    assert len(table) == len(log.events) + 1
    last = len(table) - 1  # the table is in time order and the impressions came last
    assert table.users.ids[table.user[last]] == str(user_ids[viewer])
    assert table.catalogue.items.ids[table.item[last]] == str(reel_ids[unseen])
    assert table.watch_ratio[last] == 0.0 and not table.liked[last]
    assert table.timestamp[last] == pytest.approx(served_at + 1, abs=1e-3)  # the first time served


def test_train_on_an_empty_platform_says_so(embedded_settings: Settings) -> None:
    result = runner.invoke(app, ["train"], env={"REELS_DATA_DIR": str(embedded_settings.data_dir)})
    assert result.exit_code == 1
    assert "nothing to train on: no events in stored watch events and impressions" in result.stderr
    assert not (Path(embedded_settings.data_dir) / "media" / keys.RANKER_CURRENT_KEY).exists()


def test_train_refuses_two_sources(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,timestamp,rating\nu,i,1,4\n")
    result = runner.invoke(app, ["train", "--log", str(log), "--simulate"])
    assert result.exit_code == 2
    assert "--log, --events and --simulate are different sources" in result.stderr


def test_a_reels_category_is_its_first_hashtag() -> None:
    assert reel_category("Sunset #Beach and #surf") == "beach"
    assert reel_category("no tags") is None


def test_exported_events_train_like_the_database(embedded_settings: Settings, tmp_path: Path) -> None:
    log = simulate(WORLD)
    asyncio.run(_store(embedded_settings, log))
    environment = {"REELS_DATA_DIR": str(embedded_settings.data_dir)}
    folder = tmp_path / "export"

    exported = runner.invoke(app, ["export-events", str(folder)], env=environment)

    assert exported.exit_code == 0, exported.output
    assert f"exported {len(log.events)} events (watches and unwatched impressions) to {folder}" in exported.stdout
    table = read_export(folder)
    assert len(table) == len(log.events) and len(table.catalogue) == len(log.items)
    # Follows of the viewers in the log, of creators with reels.
    viewers, creators = {event.user_id for event in log.events}, {item.creator_id for item in log.items}
    assert len(table.follows) == len(
        [1 for viewer, creator in log.follows if viewer in viewers and creator in creators]
    )
    assert np.all(np.diff(table.timestamp) >= 0) and int(table.liked.sum()) > 0
    trained = runner.invoke(app, ["train", "--events", str(folder)], env=environment)
    assert trained.exit_code == 0, trained.output
    assert f"trained on {len(log.events)} events from {folder}" in trained.stdout
    again = runner.invoke(app, ["export-events", str(folder)], env=environment)
    assert again.exit_code == 2 and "is not empty" in again.stderr
