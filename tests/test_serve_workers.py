"""`reels serve --workers N`: N API processes on one port, refused where they cannot share state."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from reels.http.processes import balances_connections
from reels.migrate import upgrade
from reels.settings import Settings
from tests.conftest import REGISTER
from tests.services import free_port, stop, wait_until
from tests.test_migrations import reels_cli

ROOT = Path(__file__).resolve().parents[1]
# Keep-alive connections opened together, in rounds. The kernel spreads them at random (a hash
# of their addresses): fewer than FAIR_SHARE of 32 on one of two processes happens about once in
# 100,000 rounds.
TOGETHER = 32
ROUNDS = 3
FAIR_SHARE = 4
ASKED = 20  # requests on each, one after another
TYPENAME = b'{"query": "{ __typename }"}'


def test_several_processes_need_redis(tmp_path: Path) -> None:
    result = reels_cli("serve", "--workers", "2", env={"REELS_DATA_DIR": str(tmp_path), "REELS_REDIS_URL": ""})
    assert result.returncode == 2
    assert "--workers needs REELS_REDIS_URL" in result.stderr


@dataclass
class TwoProcesses:
    server: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def children(self) -> list[psutil.Process]:
        """The API processes (the supervisor's other child is multiprocessing's resource tracker)."""
        return [
            child
            for child in psutil.Process(self.server.pid).children()
            if "resource_tracker" not in " ".join(child.cmdline())
        ]

    def connections_of(self, process: psutil.Process) -> int:
        return sum(
            1
            for c in process.net_connections(kind="tcp")
            if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == self.port
        )


@pytest.fixture
def two_processes(tmp_path: Path, redis_url: str) -> Iterator[TwoProcesses]:
    upgrade(Settings(data_dir=tmp_path).resolved_database_url)
    port = free_port()
    env = {
        **os.environ,
        "REELS_DATA_DIR": str(tmp_path),
        "REELS_REDIS_URL": redis_url,
        "REELS_SECRET_KEY": "workers-" + "w" * 40,
        "REELS_ACCESS_LOG": "false",
        # Every request here comes from one address, in bursts, and the bucket outlives a test.
        "REELS_REQUESTS_PER_SECOND": "100000",
        "REELS_REQUEST_BURST": "100000",
    }
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "reels.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: log_path.read_text().count("Application startup complete") == 2, 120, "2 processes", server)
        yield TwoProcesses(server, port, log_path)
    finally:
        stop(server)


def test_two_processes_serve_one_port(two_processes: TwoProcesses) -> None:
    """They answer as the app does in-process, where a forwarded address is believed from
    REELS_TRUSTED_PROXIES only (uvicorn would believe one from 127.0.0.1 of its own accord):
    without them this machine may read /metrics, whatever address it names."""
    base = two_processes.base
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/metrics", headers={"X-Forwarded-For": "8.8.8.8"}).status_code == 200
    assert two_processes.log.read_text().count("Started server process") == 2  # none was replaced
    variables = {"input": {"username": "two_processes", "password": "correct horse battery"}}
    body = httpx.post(f"{base}/graphql", json={"query": REGISTER, "variables": variables}).json()
    token = body["data"]["register"]["token"]
    # A fresh connection each: the kernel hands them to either process; each knows the token.
    for _ in range(10):
        answer = httpx.post(
            f"{base}/graphql",
            json={"query": "{ viewer { username } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert answer["data"] == {"viewer": {"username": "two_processes"}}, answer


def ask_together(port: int, count: int) -> list[socket.socket]:
    """`count` keep-alive connections opened at once (as a client's pool does), each answered
    once and left open."""
    request = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(TYPENAME)}\r\n\r\n"
    ).encode() + TYPENAME

    async def ask() -> socket.socket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(ASKED):
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            assert head.startswith(b"HTTP/1.1 200"), head
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        sock: socket.socket = writer.get_extra_info("socket").dup()  # outlives the event loop
        writer.transport.abort()
        return sock

    async def asked() -> list[socket.socket]:
        return list(await asyncio.gather(*(ask() for _ in range(count))))

    return asyncio.run(asked())


@pytest.mark.skipif(not balances_connections(), reason="the kernel spreads connections across sockets on Linux only")
def test_connections_opened_together_are_spread_across_the_processes(two_processes: TwoProcesses) -> None:
    # With one shared listening socket, the process that woke first took every connection
    # pending at that moment (32 of 32 seen), and the other one idled.
    for _ in range(ROUNDS):
        sockets = ask_together(two_processes.port, TOGETHER)
        try:
            counts = [two_processes.connections_of(child) for child in two_processes.children()]
            assert sum(counts) == TOGETHER and len(counts) == 2
            assert min(counts) >= FAIR_SHARE, counts
        finally:
            for sock in sockets:
                sock.close()


@pytest.mark.skipif(not balances_connections(), reason="the kernel spreads connections across sockets on Linux only")
def test_a_dead_process_takes_no_new_connections_with_it(two_processes: TwoProcesses) -> None:
    # The supervisor closes its copy of each process's socket: were it kept, the socket of a
    # killed process would go on receiving its share of new connections, never answered.
    victim, survivor = two_processes.children()
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    sockets = ask_together(two_processes.port, TOGETHER)  # every one answered (recv would time out)
    try:
        wait_until(lambda: two_processes.log.read_text().count("Application startup complete") == 3, 120,
                   "a replacement process", two_processes.server)  # fmt: skip
    finally:
        for sock in sockets:
            sock.close()
    # The replacement listens on a socket of its own: connections reach it too.
    replacement = next(child for child in two_processes.children() if child.pid != survivor.pid)
    sockets = ask_together(two_processes.port, TOGETHER)
    try:
        assert two_processes.connections_of(replacement) > 0
        assert two_processes.connections_of(survivor) > 0
    finally:
        for sock in sockets:
            sock.close()
