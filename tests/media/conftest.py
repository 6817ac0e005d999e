"""Clips made by the FFmpeg binary once per session: small, so the whole media suite stays fast."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reels.media import ProcessedMedia
from tests.media.clips import H264, SAMPLINGS, SOUND_TONE_HZ, SOURCE_TONE_HZ, Clips, make, process, sine, testsrc


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    root = tmp_path_factory.mktemp("clips")
    clips = Clips(*(root / name for name in (
        "with_audio.mp4", "silent.mp4", "rotated.mp4", "too_long.mp4", "too_wide.mp4",
        "audio_only.m4a", "random.mp4", "truncated.mp4", "sound.m4a",
    )))  # fmt: skip
    make(*testsrc("540x960", 30, 6), *sine(SOURCE_TONE_HZ, 6), *H264, "-c:a", "aac", "-shortest", str(clips.with_audio))
    make(*testsrc("360x640", 30, 4), *H264, str(clips.silent))
    make("-display_rotation", "90", "-i", str(clips.silent), "-c", "copy", str(clips.rotated))
    make(*testsrc("64x112", 1, 95), *H264, str(clips.too_long))
    make(*testsrc("4112x64", 1, 1), *H264, str(clips.too_wide))
    make(*sine(SOURCE_TONE_HZ, 3), "-c:a", "aac", str(clips.audio_only))
    make(*sine(SOUND_TONE_HZ, 10), "-c:a", "aac", str(clips.sound))
    clips.random_bytes.write_bytes(os.urandom(64 * 1024))
    data = clips.with_audio.read_bytes()
    clips.truncated.write_bytes(data[: len(data) // 2])
    return clips


@pytest.fixture(scope="session")
def processed_with_audio(clips: Clips, tmp_path_factory: pytest.TempPathFactory) -> tuple[ProcessedMedia, Path]:
    out_dir = tmp_path_factory.mktemp("with_audio")
    return process(clips.with_audio, out_dir, samplings=SAMPLINGS), out_dir


@pytest.fixture(scope="session")
def processed_silent(clips: Clips, tmp_path_factory: pytest.TempPathFactory) -> tuple[ProcessedMedia, Path]:
    out_dir = tmp_path_factory.mktemp("silent")
    # Leftovers of an earlier, bigger run into the same directory must not survive.
    (out_dir / "hls" / "v3").mkdir(parents=True)
    (out_dir / "hls" / "v3" / "seg_000.m4s").write_bytes(b"stale")
    (out_dir / "audio.m4a").write_bytes(b"stale")
    return process(clips.silent, out_dir), out_dir


@pytest.fixture(scope="session")
def processed_rotated(clips: Clips, tmp_path_factory: pytest.TempPathFactory) -> tuple[ProcessedMedia, Path]:
    out_dir = tmp_path_factory.mktemp("rotated")
    return process(clips.rotated, out_dir), out_dir


@pytest.fixture(scope="session")
def processed_replaced(clips: Clips, tmp_path_factory: pytest.TempPathFactory) -> tuple[ProcessedMedia, Path]:
    out_dir = tmp_path_factory.mktemp("replaced")
    return process(clips.with_audio, out_dir, replace_audio=clips.sound), out_dir
