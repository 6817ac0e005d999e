"""An API on the embedded setup and on PostgreSQL (the search indexes differ per dialect), and
the few writes the discovery tests set up straight in the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from reels.domain.models import Audio, Reel, ReelCounts, User
from reels.http.app import create_app
from reels.migrate import upgrade
from reels.schema.globalid import to_global_id
from reels.settings import Settings
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run

# Every test registers from one address.
MANY_REGISTRATIONS = {"registrations_per_hour": 100_000}
UPDATE_REEL = """mutation U($input: UpdateReelInput!) {
  updateReel(input: $input) { reel { id hashtags { name } } userErrors { field code } }
}"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def discovery_api(request: pytest.FixtureRequest, embedded_settings: Settings, tmp_path: Path) -> Iterator[Api]:
    settings = embedded_settings.model_copy(update=MANY_REGISTRATIONS)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server_url")
        settings = Settings(data_dir=tmp_path / "pg", database_url=url, secret_key="s" * 40, **MANY_REGISTRATIONS)
        upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings)) as client:
        yield Api(client)


def unique(prefix: str) -> str:
    """A name no other test shares (the PostgreSQL database is shared by the session)."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def tagged_reel(api: Api, token: str, creator_id: str, caption: str, **fields: Any) -> str:
    """A READY reel whose caption's hashtags are linked as an upload links them (updateReel)."""
    reel_id = insert_ready_reel(api, creator_id, **fields)
    payload = api.data(UPDATE_REEL, {"input": {"reelId": reel_id, "caption": caption}}, token)["updateReel"]
    assert payload["userErrors"] == [], payload
    return reel_id


def set_user(api: Api, user_id: str, **values: Any) -> None:
    async def write() -> None:
        async with platform_of(api).sessions.begin() as session:
            await session.execute(update(User).where(User.id == db_id(user_id)).values(**values))

    run(api, write)


def set_reel(api: Api, reel_id: str, **values: Any) -> None:
    async def write() -> None:
        async with platform_of(api).sessions.begin() as session:
            await session.execute(update(Reel).where(Reel.id == db_id(reel_id)).values(**values))

    run(api, write)


def set_counts(api: Api, reel_id: str, *, likes: int = 0, views: int = 0) -> None:
    """What the aggregator would have written after that many likes and views."""

    async def write() -> None:
        async with platform_of(api).sessions.begin() as session:
            session.add(ReelCounts(reel_id=db_id(reel_id), likes=likes, views=views, comments=0, shares=0))

    run(api, write)


def sound_of(api: Api, creator_id: str, title: str, reel_ids: list[str]) -> str:
    """A sound made by `creator_id`, used by the reels given (as "use this sound" makes them)."""

    async def write() -> int:
        async with platform_of(api).sessions.begin() as session:
            sound = Audio(title=title, creator_id=db_id(creator_id), use_count=len(reel_ids))
            session.add(sound)
            await session.flush()
            ids = [db_id(reel_id) for reel_id in reel_ids]
            await session.execute(update(Reel).where(Reel.id.in_(ids)).values(audio_id=sound.id))
            return sound.id

    return to_global_id("Audio", run(api, write))
