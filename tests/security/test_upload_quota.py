"""One account holds at most `max_open_uploads` uploads started and not completed (each may be
up to 512 MiB); past it createUpload answers a RATE_LIMITED userErrors entry, and completing or
deleting one frees its place."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.settings import Settings
from tests.conftest import Api
from tests.security.conftest import assert_healthy_after

OPEN_UPLOADS = 2
CREATE = """
mutation C { createUpload(input: {fileSize: 1000000, contentType: "video/mp4"}) {
  reel { id } uploadId userErrors { field code message } } }"""
DELETE = "mutation D($id: ID!) { deleteReel(input: {reelId: $id}) { userErrors { code } } }"


@pytest.fixture
def quota_api(embedded_settings: Settings) -> Iterator[Api]:
    settings = embedded_settings.model_copy(update={"max_open_uploads": OPEN_UPLOADS})
    with TestClient(create_app(settings, run_workers=False)) as client:
        yield Api(client)


def test_uploads_past_the_quota_are_refused_until_one_is_deleted(
    quota_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = quota_api.register("hoarder")
    started = [quota_api.data(CREATE, token=token)["createUpload"] for _ in range(OPEN_UPLOADS)]
    assert all(payload["userErrors"] == [] for payload in started), started

    refused: dict[str, Any] = quota_api.data(CREATE, token=token)["createUpload"]
    assert (refused["reel"], refused["uploadId"]) == (None, None), refused
    assert [error["code"] for error in refused["userErrors"]] == ["RATE_LIMITED"], refused
    assert f"{OPEN_UPLOADS} uploads in progress" in refused["userErrors"][0]["message"]

    # Someone else's quota is their own.
    other, _ = quota_api.register("neighbour")
    assert quota_api.data(CREATE, token=other)["createUpload"]["userErrors"] == []

    deleted = quota_api.data(DELETE, {"id": started[0]["reel"]["id"]}, token)["deleteReel"]
    assert deleted["userErrors"] == [], deleted
    again = quota_api.data(CREATE, token=token)["createUpload"]
    assert again["userErrors"] == [] and again["uploadId"], again
    assert_healthy_after(quota_api, [refused, again], caplog)
