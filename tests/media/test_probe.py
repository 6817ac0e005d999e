"""Probe facts and validation: what we learn from an upload and which uploads we refuse."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reels.media import MediaRejected, probe, process_source, validate
from tests.media.clips import PORTRAIT_1080P, Clips


async def test_probe_reads_the_facts_of_a_clip_with_audio(clips: Clips) -> None:
    facts = await probe(clips.with_audio)

    assert facts.container_format.startswith("mov,mp4")
    assert (facts.has_video, facts.has_audio) == (True, True)
    assert (facts.width, facts.height, facts.rotation) == (540, 960, 0)
    assert facts.duration_s == pytest.approx(6.0, abs=0.1)
    assert facts.fps == pytest.approx(30.0)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert facts.bitrate == pytest.approx(clips.with_audio.stat().st_size * 8 / facts.duration_s, rel=0.05)


async def test_probe_applies_the_display_rotation(clips: Clips) -> None:
    facts = await probe(clips.rotated)

    assert facts.rotation in (90, 270)
    assert (facts.width, facts.height) == (640, 360)


async def test_probe_reports_a_missing_audio_stream(clips: Clips) -> None:
    facts = await probe(clips.silent)

    assert (facts.has_video, facts.has_audio, facts.audio_codec) == (True, False, None)


@pytest.mark.parametrize(
    ("clip", "reason"),
    [
        ("audio_only", "the file has no video stream"),
        ("random_bytes", "the file is not a readable video"),
        ("truncated", "the file is not a readable video"),
        ("too_long", "video is 95 s long; the limit is 90 s"),
        ("too_wide", "video is 4112×64 pixels; the limit is 4096 on either side"),
    ],
)
async def test_unusable_uploads_are_rejected_with_a_readable_reason(
    clips: Clips, tmp_path: Path, clip: str, reason: str
) -> None:
    with pytest.raises(MediaRejected) as rejected:
        await process_source(getattr(clips, clip), tmp_path / "out")

    assert rejected.value.reason == reason
    assert not (tmp_path / "out" / "hls").exists()


async def test_a_playlist_disguised_as_an_upload_is_not_opened(tmp_path: Path) -> None:
    # An HLS playlist would make libav read other files or URLs on the worker's behalf.
    secret = tmp_path / "secret.ts"
    secret.write_bytes(b"\x47" * 188 * 4)
    playlist = tmp_path / "upload.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile://{secret}\n#EXT-X-ENDLIST\n")

    with pytest.raises(MediaRejected, match="not a readable video"):
        await probe(playlist)


FACTS = PORTRAIT_1080P


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"duration_s": 95.04}, "video is 95 s long; the limit is 90 s"),
        ({"duration_s": 91.25}, "video is 91.2 s long; the limit is 90 s"),
        ({"width": 4100}, "video is 4100×1920 pixels; the limit is 4096 on either side"),
        ({"height": 5000}, "video is 1080×5000 pixels; the limit is 4096 on either side"),
        ({"has_video": False, "width": 0, "height": 0}, "the file has no video stream"),
        ({"duration_s": 0.0}, "the file is not a readable video"),
    ],
)
def test_validate_rejects(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(MediaRejected) as rejected:
        validate(dataclasses.replace(FACTS, **changes), max_duration_s=90)

    assert rejected.value.reason == reason


@pytest.mark.parametrize("changes", [{}, {"duration_s": 90.3}, {"width": 4096, "height": 4096}, {"has_audio": False}])
def test_validate_accepts(changes: dict[str, object]) -> None:
    validate(dataclasses.replace(FACTS, **changes), max_duration_s=90)
