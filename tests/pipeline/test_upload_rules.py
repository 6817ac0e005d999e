"""createUpload / resumeUpload / completeUpload rules, refused up front with userErrors."""

from __future__ import annotations

import pytest

from reels.settings import Settings
from tests.conftest import Api
from tests.pipeline.helpers import (
    COMPLETE,
    DELETE,
    NODE,
    RESUME,
    USER_REELS,
    Clips,
    create_upload,
    reel,
    running,
    send_parts,
)


@pytest.fixture
def api(embedded_settings: Settings) -> Api:
    with running(embedded_settings.model_copy(update={"max_upload_bytes": 50_000_000}), workers=False) as api:
        yield api


@pytest.mark.parametrize(
    ("size", "content_type", "code", "field"),
    [
        (1000, "application/zip", "INVALID", "contentType"),
        (1000, "video/mp4; zip", "INVALID", "contentType"),
        (1000, "image/gif", "INVALID", "contentType"),
        (0, "video/mp4", "INVALID", "fileSize"),
        (-5, "video/mp4", "INVALID", "fileSize"),
        (50_000_001, "video/mp4", "TOO_LARGE", "fileSize"),
    ],
)
def test_create_upload_refuses_bad_files_up_front(
    api: Api, size: int, content_type: str, code: str, field: str
) -> None:
    token, _ = api.register("refused")
    payload = create_upload(api, token, size, content_type)
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, ["input", field])]
    assert (payload["reel"], payload["uploadId"], payload["parts"]) == (None, None, None)
    assert api.data(USER_REELS, {"name": "refused"}, token)["user"]["reels"]["edges"] == []


@pytest.mark.parametrize(
    "content_type",
    ["video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "Video/MP4", 'video/mp4; codecs="avc1.64001f"'],
)
def test_create_upload_accepts_the_video_types(api: Api, content_type: str) -> None:
    token, _ = api.register("accepted")
    payload = create_upload(api, token, 12_000_000, content_type)
    assert payload["userErrors"] == [] and payload["reel"]["status"] == "INIT"
    assert payload["partSize"] == 8 * 1024 * 1024  # the default
    assert [part["partNumber"] for part in payload["parts"]] == [1, 2]


def test_create_upload_needs_a_viewer_and_a_known_audio(api: Api) -> None:
    anonymous = api.data(
        'mutation { createUpload(input: {fileSize: 10, contentType: "video/mp4"}) { uploadId userErrors { code } } }'
    )["createUpload"]
    assert anonymous == {"uploadId": None, "userErrors": [{"code": "UNAUTHENTICATED"}]}
    token, _ = api.register("dubber")
    payload = create_upload(api, token, 1000, audioId="QXVkaW86MTIz")  # Audio:123, no such audio
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]


def test_only_the_uploader_may_resume_or_complete_and_completing_twice_is_harmless(api: Api, clips: Clips) -> None:
    token, _ = api.register("owner")
    other, _ = api.register("intruder")
    size = clips.small.stat().st_size
    started = create_upload(api, token, size)
    upload_id = started["uploadId"]
    parts = send_parts(api, clips.small, started["partSize"], started["parts"])

    for mutation, name, variables in (
        (RESUME, "resumeUpload", {"uploadId": upload_id}),
        (COMPLETE, "completeUpload", {"uploadId": upload_id, "parts": parts}),
    ):
        refused = api.data(mutation, {"input": variables}, other)[name]
        assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    assert reel(api, started["reel"]["id"], token)["status"] == "INIT"

    unknown = api.data(RESUME, {"input": {"uploadId": "no-such-upload"}}, token)["resumeUpload"]
    assert [e["code"] for e in unknown["userErrors"]] == ["NOT_FOUND"]
    wrong_etag = [{"partNumber": 1, "etag": '"' + "0" * 32 + '"'}]
    bad = api.data(COMPLETE, {"input": {"uploadId": upload_id, "parts": wrong_etag}}, token)["completeUpload"]
    assert [e["code"] for e in bad["userErrors"]] == ["INVALID"]
    missing = api.data(COMPLETE, {"input": {"uploadId": upload_id, "parts": []}}, token)["completeUpload"]
    assert [e["code"] for e in missing["userErrors"]] == ["INVALID"]

    for _ in range(2):
        done = api.data(COMPLETE, {"input": {"uploadId": upload_id, "parts": parts}}, token)["completeUpload"]
        assert done["userErrors"] == [] and done["reel"]["status"] == "UPLOADED"
    # One job queued, not two.
    platform = api.client.app.state.platform
    assert api.client.portal.call(platform.queue.depth, "media", "media-workers") == 1
    resumed = api.data(RESUME, {"input": {"uploadId": upload_id}}, token)["resumeUpload"]
    assert resumed == {"uploadId": upload_id, "missingParts": [], "userErrors": []}


def test_a_reel_that_is_not_ready_is_seen_by_its_creator_only(api: Api) -> None:
    token, _ = api.register("maker")
    reel_id = create_upload(api, token, 1000)["reel"]["id"]
    viewer, _ = api.register("onlooker")

    assert reel(api, reel_id, token)["status"] == "INIT"
    assert api.data(NODE, {"id": reel_id}, token)["node"]["status"] == "INIT"
    assert [e["node"]["id"] for e in api.data(USER_REELS, {"name": "maker"}, token)["user"]["reels"]["edges"]] == [
        reel_id
    ]
    for who in (None, viewer):
        assert reel(api, reel_id, who) is None
        assert api.data(NODE, {"id": reel_id}, who)["node"] is None
        assert api.data(USER_REELS, {"name": "maker"}, who)["user"]["reels"]["edges"] == []


def test_the_parts_must_hold_the_announced_size(api: Api, clips: Clips) -> None:
    token, _ = api.register("fibber")
    size = clips.small.stat().st_size
    started = create_upload(api, token, size + 1)  # announces one byte more than it sends
    parts = send_parts(api, clips.small, started["partSize"], started["parts"])
    refused = api.data(COMPLETE, {"input": {"uploadId": started["uploadId"], "parts": parts}}, token)["completeUpload"]
    assert [(e["code"], e["message"]) for e in refused["userErrors"]] == [
        ("INVALID", f"the parts hold {size} bytes, not the {size + 1} announced in createUpload")
    ]
    assert reel(api, started["reel"]["id"], token)["status"] == "INIT"


def test_an_upload_of_a_deleted_reel_cannot_go_on(api: Api, clips: Clips) -> None:
    token, _ = api.register("quitter")
    started = create_upload(api, token, clips.small.stat().st_size)
    parts = send_parts(api, clips.small, started["partSize"], started["parts"])
    assert api.data(DELETE, {"input": {"reelId": started["reel"]["id"]}}, token)["deleteReel"]["userErrors"] == []
    for mutation, name, variables in (
        (RESUME, "resumeUpload", {"uploadId": started["uploadId"]}),
        (COMPLETE, "completeUpload", {"uploadId": started["uploadId"], "parts": parts}),
    ):
        assert [e["code"] for e in api.data(mutation, {"input": variables}, token)[name]["userErrors"]] == ["NOT_FOUND"]


def test_hashtags_come_from_the_caption(api: Api) -> None:
    token, _ = api.register("tagger")
    query = "query R($id: ID!) { reel(id: $id) { caption hashtags { name } } }"
    first = create_upload(api, token, 1000, caption="  Cats! #Cats #cats #dogs_2 #été  ")["reel"]["id"]
    second = create_upload(api, token, 1000, caption="#dogs_2 again, #CATS")["reel"]["id"]  # existing tags
    tagged = api.data(query, {"id": first}, token)["reel"]
    assert tagged["caption"] == "Cats! #Cats #cats #dogs_2 #été"
    assert sorted(h["name"] for h in tagged["hashtags"]) == ["cats", "dogs_2", "été"]
    assert sorted(h["name"] for h in api.data(query, {"id": second}, token)["reel"]["hashtags"]) == ["cats", "dogs_2"]
    too_long = create_upload(api, token, 1000, caption="x" * 2201)
    assert [e["code"] for e in too_long["userErrors"]] == ["TOO_LONG"]
