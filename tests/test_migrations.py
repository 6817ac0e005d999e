"""Migrations: run on SQLite and PostgreSQL, are idempotent, match the models, and an
unmigrated database is refused with a message saying what to do."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from reels.db import (
    Base,
    NotMigratedError,
    check_migrated,
    create_engine,
    in_models,
    read_engine,
    session_factory,
)

# Modules imported for their tables, as migrations/env.py does.
from reels.domain import models as domain_tables  # noqa: F401
from reels.domain import search
from reels.migrate import alembic_config, upgrade
from reels.ports.graph import sql as follow_graph_tables  # noqa: F401
from reels.ports.graph.sql import SqlFollowGraph
from reels.ports.kv.memory import MemoryKeyValue
from reels.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def reels_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reels.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=timeout,
    )


async def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True, "include_name": in_models}),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()


def _migrate_twice_and_compare(env: dict[str, str], url: str) -> None:
    for _ in range(2):  # idempotent: the second run changes nothing and succeeds
        result = reels_cli("migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout
    asyncio.run(check_migrated(url))
    assert asyncio.run(_differences(url)) == []


def test_sqlite_migrates_idempotently_and_matches_the_models(tmp_path: Path) -> None:
    env = {"REELS_DATA_DIR": str(tmp_path)}
    _migrate_twice_and_compare(env, Settings(data_dir=tmp_path).resolved_database_url)


@pytest.mark.services
def test_postgresql_migrates_idempotently_and_matches_the_models(postgres_server_url: str) -> None:
    env = {"REELS_DATABASE_URL": postgres_server_url, "REELS_SECRET_KEY": "x" * 40}
    url = Settings(database_url=postgres_server_url).resolved_database_url
    _migrate_twice_and_compare(env, url)


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = reels_cli("serve", "--port", "1", env={"REELS_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "run `reels migrate`" in result.stderr
    with pytest.raises(NotMigratedError):
        asyncio.run(check_migrated(Settings(data_dir=tmp_path).resolved_database_url))


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REELS_DATABASE_URL": "mysql://root@localhost/x"}, "REELS_DATABASE_URL"),
        ({"REELS_S3_ENDPOINT_URL": "http://127.0.0.1:9"}, "REELS_S3_BUCKET"),
        ({"REELS_REDIS_URL": "http://nope", "REELS_SECRET_KEY": "x" * 40}, "REELS_REDIS_URL"),
        ({"REELS_REDIS_URL": "redis://127.0.0.1:9"}, "REELS_SECRET_KEY"),
        (
            {"REELS_REDIS_URL": "redis+cluster://10.0.0.1:7000,10.0.0.2", "REELS_SECRET_KEY": "x" * 40},
            "REELS_REDIS_URL",
        ),
        ({"REELS_DATABASE_REPLICA_URLS": "postgresql://replica/db"}, "REELS_DATABASE_REPLICA_URLS"),
    ],
)
def test_a_wrong_setting_is_a_clear_error_naming_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    result = reels_cli("migrate", env={"REELS_DATA_DIR": str(tmp_path), **env})
    assert result.returncode == 2
    assert variable in result.stderr and "Traceback" not in result.stderr


def test_accounts_made_before_the_name_keys_are_found_by_a_misspelling(tmp_path: Path) -> None:
    url = Settings(data_dir=tmp_path).resolved_database_url
    command.upgrade(alembic_config(url), "0010")
    with sqlite3.connect(tmp_path / "reels.db") as db:
        db.execute(
            "INSERT INTO users (id, username, display_name, bio, password_hash, role, created_at) "
            "VALUES (7, 'marguerite', 'Marguerite Okafor', '', '-', 'USER', '2026-12-01')"
        )
    upgrade(url)

    async def found(query: str) -> list[str]:
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            return [
                user.username
                for user in await search.users(
                    sessions, MemoryKeyValue(), SqlFollowGraph(sessions, read_engine(engine)), query, 10
                )
            ]
        finally:
            await engine.dispose()

    assert asyncio.run(found("magruer")) == ["marguerite"]
    assert asyncio.run(found("okafro")) == ["marguerite"]
