"""A fresh PostgreSQL database per test session, on the server at REELS_TEST_POSTGRES_URL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from tests.services import unavailable

SERVER_URL = os.environ.get("REELS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(SERVER_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run(sql: str) -> str | None:
    try:
        asyncio.run(_admin(sql))
    except Exception as exc:  # noqa: BLE001 - any failure means no usable server
        return f"PostgreSQL at {SERVER_URL} unavailable: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a newly created, empty database; dropped after the session."""
    name = f"reels_test_{uuid.uuid4().hex[:10]}"
    error = _run(f'CREATE DATABASE "{name}"')
    if error:
        unavailable(error)
    base = SERVER_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    _run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """URL of a database of this test's own, empty and dropped after it: for a test that reads
    every stored row, which the session's shared database holds other tests' of."""
    name = f"reels_test_{uuid.uuid4().hex[:10]}"
    error = _run(f'CREATE DATABASE "{name}"')
    if error:
        unavailable(error)
    yield f"{SERVER_URL.rsplit('/', 1)[0]}/{name}"
    _run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
