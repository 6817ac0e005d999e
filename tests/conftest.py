"""Shared fixtures: an embedded platform in a temp dir, and API clients through the public
HTTP and websocket surface."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.migrate import upgrade
from reels.settings import Settings

pytest_plugins = [
    "tests.services.postgres",
    "tests.services.pg_replica",
    "tests.services.redis",
    "tests.services.redis_cluster",
    "tests.services.s3",
    "tests.services.falkordb",
]


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once; each test gets a copy (migrating takes a while)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("template"))
    upgrade(settings.resolved_database_url)
    return settings.data_dir / "reels.db"


@pytest.fixture
def embedded_settings(tmp_path: Path, migrated_sqlite: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "var")
    settings.data_dir.mkdir()
    shutil.copy(migrated_sqlite, settings.data_dir / "reels.db")
    return settings


# Test clients connect from this machine, as a developer's browser does (/metrics is open to it).
LOCAL_CLIENT = ("127.0.0.1", 50000)


class Api:
    """A GraphQL client over the app's real HTTP and websocket endpoints."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def post(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    def __call__(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        response = self.post(query, variables, token)
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        body = self(query, variables, token)
        assert not body.get("errors"), body
        return body["data"]

    def register(self, username: str, password: str = "correct horse battery") -> tuple[str, dict[str, Any]]:
        payload = self.data(REGISTER, {"input": {"username": username, "password": password}})["register"]
        assert payload["userErrors"] == [], payload
        return payload["token"], payload["user"]


REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { token user { id username displayName role } userErrors { field message code } }
}"""


@pytest.fixture
def api(embedded_settings: Settings) -> Iterator[Api]:
    with TestClient(create_app(embedded_settings), client=LOCAL_CLIENT) as client:
        yield Api(client)


def run(api: Api, coroutine_function: Any, *args: Any) -> Any:
    """Run an async function on the app's own event loop (where its platform lives)."""
    return api.client.portal.call(coroutine_function, *args)


def platform_of(api: Api) -> Any:
    return api.client.app.state.platform


def db_id(global_id: str) -> int:
    from reels.schema.globalid import from_global_id

    parsed = from_global_id(global_id)
    assert parsed is not None, global_id
    return parsed[1]


def insert_ready_reel(
    api: Api, creator_global_id: str, *, caption: str = "", visibility: str = "PUBLIC", duration_ms: int = 10_000
) -> str:
    """A READY reel straight in the database, for tests of what happens after processing."""
    from reels.domain.models import Reel, ReelStatus, Visibility
    from reels.schema.globalid import to_global_id

    prefix = "reels/test/"
    reel = Reel(
        creator_id=db_id(creator_global_id),
        caption=caption,
        status=ReelStatus.READY,
        visibility=Visibility(visibility),
        duration_ms=duration_ms,
        width=720,
        height=1280,
        fps=30.0,
        media={
            "hls": prefix + "hls/master.m3u8",
            "startup_segment": prefix + "hls/v0/seg_000.m4s",
            "renditions": [
                {"width": 720, "height": 1280, "bandwidth": 3_000_000, "playlist": prefix + "hls/v3/index.m3u8"}
            ],
            "thumbnail": prefix + "thumb.jpg",
            "preview": prefix + "preview.mp4",
        },
    )

    async def insert() -> int:
        async with platform_of(api).sessions() as session:
            session.add(reel)
            await session.commit()
        return reel.id

    return to_global_id("Reel", run(api, insert))


STAFF_PASSWORD = "correct horse battery"
LOGIN = """mutation L($input: LoginInput!) { login(input: $input) { token userErrors { code message } } }"""


def staff_token(api: Api, username: str, role: str) -> str:
    """A signed-in moderator's or admin's token (no mutation makes the first of them)."""
    from reels.domain import accounts
    from reels.domain.models import Role

    run(api, accounts.register, platform_of(api).sessions, username, STAFF_PASSWORD, None, Role(role))
    login = api.data(LOGIN, {"input": {"username": username, "password": STAFF_PASSWORD}})["login"]
    return str(login["token"])
