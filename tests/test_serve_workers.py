"""`reels serve --workers N`: N API processes on one port, refused where they cannot share state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from reels.migrate import upgrade
from reels.settings import Settings
from tests.conftest import REGISTER
from tests.services import free_port, stop, wait_until
from tests.test_migrations import reels_cli

ROOT = Path(__file__).resolve().parents[1]


def test_several_processes_need_redis(tmp_path: Path) -> None:
    result = reels_cli("serve", "--workers", "2", env={"REELS_DATA_DIR": str(tmp_path), "REELS_REDIS_URL": ""})
    assert result.returncode == 2
    assert "--workers needs REELS_REDIS_URL" in result.stderr


def test_two_processes_serve_one_port(tmp_path: Path, redis_url: str) -> None:
    upgrade(Settings(data_dir=tmp_path).resolved_database_url)
    port = free_port()
    env = {
        **os.environ,
        "REELS_DATA_DIR": str(tmp_path),
        "REELS_REDIS_URL": redis_url,
        "REELS_SECRET_KEY": "workers-" + "w" * 40,
        "REELS_ACCESS_LOG": "false",
    }
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "reels.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: log_path.read_text().count("Application startup complete") == 2, 120, "2 processes", server)
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert log_path.read_text().count("Started server process") == 2  # none was replaced
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
    finally:
        stop(server)
