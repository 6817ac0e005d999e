"""What every hostile-input test checks after a group of requests: the server refused them as a
client's mistake and is still well.

Use `assert_healthy_after(api, responses, caplog)` at the end of a group (or the `healthy`
fixture, which binds the test's caplog): no 5xx, no "Internal error" in any answer, no traceback
in the server's log, and /healthz still answers ok.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.settings import Settings
from tests.conftest import Api

INTERNAL_ERROR = "Internal error"

# An HTTP response of the test client (`.status_code`, `.text`) or a decoded GraphQL body.
Answer = Any


def _problems_of(answer: Answer) -> list[str]:
    if isinstance(answer, dict):
        problems = []
        text = json.dumps(answer)
    else:
        problems = [f"HTTP {answer.status_code}: {answer.text[:200]}"] if answer.status_code >= 500 else []
        text = answer.text
    if INTERNAL_ERROR in text:
        problems.append(f"answer carries {INTERNAL_ERROR!r}: {text[:300]}")
    return problems


def _tracebacks_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.exc_info or record.exc_text or "Traceback (most recent call last)" in record.getMessage()
    ]


def assert_healthy_after(api: Api, answers: Iterable[Answer], caplog: pytest.LogCaptureFixture) -> None:
    """Every answer (an HTTP response or a decoded GraphQL body) is a refusal or a result, never
    a server failure; the log holds no traceback; /healthz is ok."""
    problems = [problem for answer in answers for problem in _problems_of(answer)]
    problems += [f"traceback logged: {line}" for line in _tracebacks_in(caplog)]
    health = api.client.get("/healthz")
    if health.status_code != 200 or health.json().get("status") != "ok":
        problems.append(f"/healthz answered {health.status_code}: {health.text[:200]}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def healthy(api: Api, caplog: pytest.LogCaptureFixture) -> Callable[[Iterable[Answer]], None]:
    """`healthy(answers)`: `assert_healthy_after` with this test's api and caplog."""
    caplog.set_level(logging.INFO)

    def check(answers: Iterable[Answer]) -> None:
        assert_healthy_after(api, answers, caplog)

    return check


ApiOf = Callable[..., Any]


@pytest.fixture
def api_of(embedded_settings: Settings) -> Iterator[ApiOf]:
    """`with api_of(peer=…, **settings) as api:` an app whose test client connects from `peer`."""

    @contextmanager
    def open_api(peer: str = "203.0.113.7", **settings: Any) -> Iterator[Api]:
        app = create_app(embedded_settings.model_copy(update=settings))
        with TestClient(app, client=(peer, 50000)) as client:
            yield Api(client)

    yield open_api
