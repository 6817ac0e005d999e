"""resumeUpload names the parts the store already holds, with their etags, so a client that lost
its own record of them can still complete the upload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reels.settings import Settings
from tests.conftest import Api
from tests.pipeline.helpers import COMPLETE, create_upload, put_part, running

RESUME = """mutation Resume($input: ResumeUploadInput!) {
  resumeUpload(input: $input) { missingParts { partNumber url } uploadedParts { partNumber etag } userErrors { code } }
}"""


@pytest.fixture
def api(embedded_settings: Settings) -> Iterator[Api]:
    with running(embedded_settings, workers=False) as api:
        yield api


def test_resume_lists_stored_parts_and_their_etags_complete_with(api: Api) -> None:
    token, _ = api.register("forgetful")
    started = create_upload(api, token, 12_000_000)
    part_size, first_part = started["partSize"], started["parts"][0]
    first_etag = put_part(api, first_part["url"], b"\x00" * part_size)

    resumed = api.data(RESUME, {"input": {"uploadId": started["uploadId"]}}, token)["resumeUpload"]
    assert resumed["userErrors"] == []
    assert resumed["uploadedParts"] == [{"partNumber": 1, "etag": first_etag}]
    assert [part["partNumber"] for part in resumed["missingParts"]] == [2]

    second_etag = put_part(api, resumed["missingParts"][0]["url"], b"\x01" * (12_000_000 - part_size))
    parts = [*resumed["uploadedParts"], {"partNumber": 2, "etag": second_etag}]
    done = api.data(COMPLETE, {"input": {"uploadId": started["uploadId"], "parts": parts}}, token)["completeUpload"]
    assert done["userErrors"] == [] and done["reel"]["status"] == "UPLOADED"

    after = api.data(RESUME, {"input": {"uploadId": started["uploadId"]}}, token)["resumeUpload"]
    assert after == {"missingParts": [], "uploadedParts": [], "userErrors": []}
