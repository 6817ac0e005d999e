"""A private PostgreSQL primary and a streaming replica of it, from the machine's PostgreSQL
binaries (`initdb`, `pg_basebackup -R`, `pg_ctl` under /usr/lib/postgresql/*/bin).

Run as the `postgres` account when the tests run as root (initdb refuses root); both servers
listen on free loopback ports, keep their data in a temp dir, and are stopped at the end. One
pair serves the session: each kind of deployment on it takes a database of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.services import free_port, unavailable, wait_until

SERVER_OPTIONS = "-c listen_addresses=127.0.0.1 -c wal_level=replica -c fsync=off -c max_wal_senders=4 -k {socket_dir}"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"))
    return Path(found[-1]).parent if found else None


@dataclass
class PgServer:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return self.url_of("postgres")

    def url_of(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def on_server(url: str, sql: str, *args: Any) -> Any:
    """The first value `sql` answers on the server at `url`."""

    async def run() -> Any:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


@dataclass
class PgReplicaPair:
    bin_dir: Path
    primary: PgServer
    replica: PgServer
    user: str | None

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self, server: PgServer) -> None:
        options = SERVER_OPTIONS.format(socket_dir=server.data_dir) + f" -p {server.port}"
        self.run("pg_ctl", "-D", str(server.data_dir), "-o", options, "-l", str(server.data_dir / "log"), "-w", "start")

    def stop(self, server: PgServer, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.run("pg_ctl", "-D", str(server.data_dir), "-m", mode, "-w", "stop")

    def wait_replayed(self) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        written = on_server(self.primary.url, "SELECT pg_current_wal_flush_lsn()::text")
        wait_until(
            lambda: on_server(self.replica.url, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", written),
            30,
            "the replica to replay the primary",
        )


@dataclass
class ReplicatedDatabase:
    """A database of its own on the pair: written on the primary, read on the replica."""

    pair: PgReplicaPair
    name: str

    @property
    def primary_url(self) -> str:
        return self.pair.primary.url_of(self.name)

    @property
    def replica_url(self) -> str:
        return self.pair.replica.url_of(self.name)


@contextlib.contextmanager
def running_replica_pair(folder: Path) -> Iterator[PgReplicaPair]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        unavailable("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        raise AssertionError  # unreachable: unavailable() skips or fails
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            unavailable("initdb refuses root and there is no postgres account to run it as")
        if shutil.which("runuser") is None:
            unavailable("initdb refuses root and runuser is missing")
        shutil.chown(folder, user)
    pair = PgReplicaPair(
        bin_dir, PgServer(folder / "primary", free_port()), PgServer(folder / "replica", free_port()), user
    )
    started: list[PgServer] = []
    try:
        try:
            pair.run("initdb", "-D", str(pair.primary.data_dir), "-U", "postgres", "-A", "trust", "--no-sync")
            pair.start(pair.primary)
            started.append(pair.primary)
            pair.run(
                "pg_basebackup",
                *("-h", "127.0.0.1", "-p", str(pair.primary.port), "-U", "postgres"),
                *("-D", str(pair.replica.data_dir), "-R", "-X", "stream", "--no-sync"),
            )
            pair.start(pair.replica)
            started.append(pair.replica)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            detail = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
            unavailable(f"could not start a PostgreSQL primary and replica: {exc} {detail}")
        yield pair
    finally:
        for server in reversed(started):
            pair.stop(server, "immediate")


@pytest.fixture(scope="session")
def pg_replica_pair() -> Iterator[PgReplicaPair]:
    """A PostgreSQL primary (wal_level=replica) and a hot standby streaming from it; a test that
    pauses or stops the replica resumes or restarts it before it ends."""
    # Not under pytest's temp root: that one is private to root, and the servers may run as postgres.
    folder = Path(tempfile.mkdtemp(prefix="reels-pg-"))
    try:
        with running_replica_pair(folder) as pair:
            yield pair
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def replicated_database(pg_replica_pair: PgReplicaPair) -> ReplicatedDatabase:
    """A new, empty database on the session's pair, once the replica has it too (its URL works)."""
    database = ReplicatedDatabase(pg_replica_pair, f"reels_test_{uuid.uuid4().hex[:10]}")
    on_server(pg_replica_pair.primary.url, f'CREATE DATABASE "{database.name}"')
    pg_replica_pair.wait_replayed()
    return database
