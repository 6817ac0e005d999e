"""Done when: a real clip uploaded in parts through the presigned URLs, resumed after part 1,
comes out READY with a ladder whose every segment decodes and whose segment timelines match
across rungs; on the embedded setup and on S3 + Redis + PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import av
import pytest
from sqlalchemy import select

from reels.domain.models import Audio, Notification, NotificationKind
from reels.ports.objectstore import MIN_PART_BYTES
from reels.schema.globalid import db_id_of
from tests.media.clips import dominant_frequency_hz
from tests.pipeline.helpers import (
    COMPLETE,
    NODE,
    RESUME,
    USER_REELS,
    Clips,
    Stack,
    StatusWatcher,
    call,
    create_upload,
    decode_rung,
    fetch,
    put_part,
    reel,
    rendition_playlists,
    running,
    unique,
    upload,
    wait_for,
)


async def notification_kinds(platform, reel_id: str) -> list[str]:
    async with platform.sessions() as session:
        rows = await session.scalars(select(Notification.kind).where(Notification.reel_id == db_id_of(reel_id, "Reel")))
        return [kind.value for kind in rows]


async def sound_file_codec(platform, audio_id: str, path: Path) -> str:
    async with platform.sessions() as session:
        sound = await session.get(Audio, db_id_of(audio_id, "Audio"))
    await platform.store.download_file(sound.storage_key, path)
    with av.open(str(path)) as container:
        (stream,) = container.streams
        return stream.codec_context.name


def test_a_clip_uploaded_in_parts_resumes_and_comes_out_ready(stack: Stack, clips: Clips, tmp_path: Path) -> None:
    settings = stack.settings
    creator = unique("creator")
    data = clips.two_parts.read_bytes()
    with running(settings) as api:
        token, _ = api.register(creator)
        started = create_upload(api, token, len(data), caption="First light #Reels #pipeline", contentType="video/mp4")
        assert started["userErrors"] == [] and started["reel"]["status"] == "INIT"
        assert started["partSize"] == MIN_PART_BYTES
        assert [part["partNumber"] for part in started["parts"]] == [1, 2]
        if stack.kind == "services":  # real presigned S3 URLs, not the app
            assert all(part["url"].startswith(settings.s3_endpoint_url) for part in started["parts"])
        first = put_part(api, started["parts"][0]["url"], data[:MIN_PART_BYTES])
        reel_id, upload_id = started["reel"]["id"], started["uploadId"]

    with running(settings) as api:  # a restart between the parts changes nothing
        resumed = api.data(RESUME, {"input": {"uploadId": upload_id}}, token)["resumeUpload"]
        assert resumed["userErrors"] == [] and [part["partNumber"] for part in resumed["missingParts"]] == [2]
        second = put_part(api, resumed["missingParts"][0]["url"], data[MIN_PART_BYTES:])

        watcher = StatusWatcher(api, token, reel_id)
        parts = [{"partNumber": 1, "etag": first}, {"partNumber": 2, "etag": second}]
        done = api.data(COMPLETE, {"input": {"uploadId": upload_id, "parts": parts}}, token)["completeUpload"]
        assert done["userErrors"] == [] and done["reel"]["id"] == reel_id
        again = api.data(COMPLETE, {"input": {"uploadId": upload_id, "parts": parts}}, token)["completeUpload"]
        assert again["userErrors"] == [] and again["reel"]["id"] == reel_id  # completing twice is harmless

        statuses = watcher.statuses_until_final()
        watcher.close()
        assert statuses[-1] == "READY"
        assert statuses == sorted(statuses, key=["UPLOADED", "PROCESSING", "READY"].index)

        ready = wait_for(api, reel_id, token, {"READY"})
        assert ready["durationMs"] == pytest.approx(4000, abs=100)
        assert ready["audio"]["title"] == f"Original audio · @{creator}" and ready["audio"]["useCount"] == 1
        assert call(api, sound_file_codec, ready["audio"]["id"], tmp_path / "sound.m4a") == "aac"  # its own file
        assert fetch(api, ready["thumbnailUrl"])[:2] == b"\xff\xd8"  # a JPEG
        assert fetch(api, ready["playback"]["previewUrl"])[4:8] == b"ftyp"

        playback = ready["playback"]
        assert [(r["width"], r["height"]) for r in playback["renditions"]] == [(240, 426), (360, 640)]
        rungs = rendition_playlists(api, playback["hlsUrl"])
        # The master names the same playlists the API lists, every one through the signing route
        # (or the CDN); the segments come straight from the store.
        assert [urlsplit(url).path for url, _ in rungs] == [
            urlsplit(r["playlistUrl"]).path for r in playback["renditions"]
        ]
        assert all(urlsplit(url).path.startswith("/playlists/reels/") for url, _ in rungs)
        decoded = [decode_rung(api, text) for _, text in rungs]
        timelines = [timeline for timeline, _, _ in decoded]
        assert len(timelines[0]) == 2 and sum(timelines[0]) == pytest.approx(4.0, abs=0.1)
        assert all(timeline == timelines[0] for timeline in timelines)
        assert fetch(api, playback["startupSegmentUrl"]) == decoded[0][2][0]
        assert fetch(api, playback["startupInitUrl"]) == decoded[0][1]  # what the segment decodes with
        if stack.kind == "services":
            assert playback["startupSegmentUrl"].startswith(settings.s3_endpoint_url)

        assert call(api, notification_kinds, reel_id) == [NotificationKind.REEL_READY.value]
        hashtag = api.data('query { hashtag(name: "pipeline") { reelCount } }')["hashtag"]
        assert hashtag["reelCount"] >= 1

        # Everyone sees a READY public reel.
        viewer_token, _ = api.register(unique("viewer"))
        for who in (None, viewer_token):
            assert reel(api, reel_id, who)["status"] == "READY"
            assert api.data(NODE, {"id": reel_id}, who)["node"] == {"id": reel_id, "status": "READY"}
            edges = api.data(USER_REELS, {"name": creator}, who)["user"]["reels"]["edges"]
            assert [edge["node"]["id"] for edge in edges] == [reel_id]

        # "Use this sound": a silent clip gets the first reel's sound, trimmed to its length.
        audio_id = ready["audio"]["id"]
        dubbed_id = upload(api, token, clips.silent, audioId=audio_id)
        dubbed = wait_for(api, dubbed_id, token, {"READY"})
        assert dubbed["audio"]["id"] == audio_id and dubbed["audio"]["useCount"] == 2
        assert dubbed["audio"]["title"] == f"Original audio · @{creator}"
        _, init, segments = decode_rung(api, rendition_playlists(api, dubbed["playback"]["hlsUrl"])[0][1])
        joined = tmp_path / "dubbed.mp4"
        joined.write_bytes(init + b"".join(segments))
        assert dominant_frequency_hz(joined) == pytest.approx(440, abs=5)
        assert call(api, notification_kinds, dubbed_id) == [NotificationKind.REEL_READY.value]
