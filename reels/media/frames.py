"""Sampling a video's frames as small arrays, for the automated checks.

One FFmpeg process decodes the video, keeps `fps` frames a second (the frame nearest each tick),
scales them with area averaging and writes raw pixels to stdout; nothing touches disk. A 90 s reel
at 8 frames a second and 32×32 grayscale (what `reels.moderation` fingerprints) is 737 KB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import ffmpeg
import numpy as np

from reels.media.errors import TranscodeError
from reels.media.probe import UNTRUSTED_INPUT_OPTIONS
from reels.media.runner import ffmpeg_command, run_child

SAMPLE_TIMEOUT_S = 120.0

PixelFormat = Literal["gray", "rgb24"]
_CHANNELS: dict[PixelFormat, int] = {"gray": 1, "rgb24": 3}


def sample_command(source: Path, *, fps: float, width: int, height: int, pixel_format: PixelFormat) -> list[str]:
    """The FFmpeg argv writing the sampled frames to stdout as raw `pixel_format` pixels."""
    video = ffmpeg.input(f"file:{source.resolve()}", **UNTRUSTED_INPUT_OPTIONS)["V:0"]
    frames = (
        video.filter("fps", fps=f"{fps:g}")
        # Area averaging: every source pixel counts, so re-encoding noise averages out.
        .filter("scale", width, height, flags="area")
        .filter("format", pixel_format)
    )
    return ffmpeg_command(ffmpeg.output(frames, "pipe:", format="rawvideo", pix_fmt=pixel_format, an=None))


async def sample_frames(
    source: Path,
    *,
    fps: float,
    width: int,
    height: int,
    pixel_format: PixelFormat = "gray",
    timeout_s: float = SAMPLE_TIMEOUT_S,
) -> np.ndarray:
    """`fps` frames a second of `source`'s first video stream, as displayed (rotation applied).

    Returns uint8 pixels shaped (frames, height, width) for "gray", (frames, height, width, 3)
    for "rgb24". The aspect ratio is not kept: every frame fills `width`×`height`. Raises
    `TranscodeError` when FFmpeg fails or takes longer than `timeout_s`.
    """
    argv = sample_command(source, fps=fps, width=width, height=height, pixel_format=pixel_format)
    finished = await run_child(argv, timeout_s=timeout_s, what="frame sampling", capture_stdout=True)
    if finished.returncode != 0:
        detail = finished.stderr_tail or "no error output"
        raise TranscodeError(f"frame sampling failed (FFmpeg exit status {finished.returncode}): {detail}")
    channels = _CHANNELS[pixel_format]
    frame_bytes = width * height * channels
    if len(finished.stdout) % frame_bytes:
        raise TranscodeError(f"frame sampling wrote {len(finished.stdout)} bytes, not whole {width}×{height} frames")
    frames = np.frombuffer(finished.stdout, dtype=np.uint8).reshape(-1, height, width, channels)
    return frames[..., 0] if channels == 1 else frames
