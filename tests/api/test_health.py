"""/healthz names what is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.settings import Settings
from tests.services import stop
from tests.services.redis import running_redis


@pytest.mark.services
def test_healthz_answers_503_naming_the_adapters_that_are_down(embedded_settings: Settings, tmp_path: Path) -> None:
    with running_redis() as (process, url):
        settings = embedded_settings.model_copy(update={"redis_url": url, "secret_key": "k" * 40})
        with TestClient(create_app(settings, run_workers=False)) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            stop(process)
            response = client.get("/healthz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "down" and {"kv", "queue", "pubsub"} <= set(body["down"])
            assert "database" not in body["down"] and body["checks"]["database"] == "ok"
