"""Frame sampling: a fixed rate of small frames from FFmpeg's stdout, and FFmpeg's errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reels.media import TranscodeError
from reels.media.frames import sample_frames
from tests.moderation.conftest import SECONDS, Clips


async def test_grayscale_frames_at_the_asked_rate(clips: Clips) -> None:
    frames = await sample_frames(clips.original, fps=4, width=32, height=32)

    assert frames.dtype == np.uint8
    assert frames.shape[1:] == (32, 32)
    assert abs(len(frames) - 4 * SECONDS) <= 1
    assert frames.std() > 10  # a picture, not a blank


async def test_rgb_frames_for_a_classifier(clips: Clips) -> None:
    frames = await sample_frames(clips.original, fps=1, width=64, height=48, pixel_format="rgb24")

    assert frames.shape[1:] == (48, 64, 3)
    assert abs(len(frames) - SECONDS) <= 1


async def test_a_file_that_is_no_video_is_a_transcode_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)

    with pytest.raises(TranscodeError, match="frame sampling failed"):
        await sample_frames(junk, fps=1, width=32, height=32)
