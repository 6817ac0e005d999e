"""Sampling a video's frames as small arrays, for the automated checks; and one still frame as a
square JPEG (an avatar taken from a reel).

A `FrameSampling` keeps `fps` frames a second (the frame nearest each tick), scales them with area
averaging and writes raw pixels. The worker asks the ladder's FFmpeg process for its samplings
(extra outputs of the one decode, see `reels.media.ladder`); `sample_frames` is the same filter
chain in an FFmpeg process of its own, writing to stdout, for a file that is not transcoded. A
90 s reel at 8 frames a second and 32×32 grayscale (what `reels.moderation` fingerprints) is 737 KB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ffmpeg
import numpy as np

from reels.media.errors import TranscodeError
from reels.media.probe import UNTRUSTED_INPUT_OPTIONS
from reels.media.runner import ffmpeg_command, run_child

SAMPLE_TIMEOUT_S = 120.0
STILL_JPEG_QUALITY = 3  # FFmpeg's -q:v scale, 2 (best) to 31

PixelFormat = Literal["gray", "rgb24"]
_CHANNELS: dict[PixelFormat, int] = {"gray": 1, "rgb24": 3}


@dataclass(frozen=True)
class FrameSampling:
    """`fps` frames a second, each scaled to `width`×`height` (aspect not kept), as raw pixels."""

    fps: float
    width: int
    height: int
    pixel_format: PixelFormat = "gray"

    def output(self, video: Any, target: str) -> Any:
        """The ffmpeg-python output writing the samples of `video` (a stream of decoded frames)
        to `target` (a path or "pipe:")."""
        samples = (
            video.filter("fps", fps=f"{self.fps:g}")
            # Area averaging: every source pixel counts, so re-encoding noise averages out.
            .filter("scale", self.width, self.height, flags="area")
            .filter("format", self.pixel_format)
        )
        return ffmpeg.output(samples, target, format="rawvideo", pix_fmt=self.pixel_format, an=None)

    def frames(self, data: bytes) -> np.ndarray:
        """The raw pixels FFmpeg wrote, as uint8 shaped (frames, height, width) for "gray",
        (frames, height, width, 3) for "rgb24"."""
        channels = _CHANNELS[self.pixel_format]
        frame_bytes = self.width * self.height * channels
        if len(data) % frame_bytes:
            raise TranscodeError(f"frame sampling wrote {len(data)} bytes, not whole {self.width}×{self.height} frames")
        frames = np.frombuffer(data, dtype=np.uint8).reshape(-1, self.height, self.width, channels)
        return frames[..., 0] if channels == 1 else frames


def sample_command(source: Path, sampling: FrameSampling) -> list[str]:
    """The FFmpeg argv writing the sampled frames of `source` to stdout."""
    video = ffmpeg.input(f"file:{source.resolve()}", **UNTRUSTED_INPUT_OPTIONS)["V:0"]
    return ffmpeg_command(sampling.output(video, "pipe:"))


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
    sampling = FrameSampling(fps, width, height, pixel_format)
    finished = await run_child(
        sample_command(source, sampling), timeout_s=timeout_s, what="frame sampling", capture_stdout=True
    )
    if finished.returncode != 0:
        detail = finished.stderr_tail or "no error output"
        raise TranscodeError(f"frame sampling failed (FFmpeg exit status {finished.returncode}): {detail}")
    return sampling.frames(finished.stdout)


def still_command(source: Path, out: Path, *, at_s: float, size: int) -> list[str]:
    """The FFmpeg argv writing the frame shown at `at_s`, its middle square scaled to `size`."""
    video = ffmpeg.input(f"file:{source.resolve()}", ss=f"{at_s:.3f}", **UNTRUSTED_INPUT_OPTIONS)["V:0"]
    square = video.filter("crop", "min(iw,ih)", "min(iw,ih)").filter("scale", size, size)
    return ffmpeg_command(ffmpeg.output(square, str(out.resolve()), frames=1, update=1, **{"q:v": STILL_JPEG_QUALITY}))


async def still_frame(source: Path, out: Path, *, at_s: float, size: int, timeout_s: float) -> None:
    """Write the frame `source` shows at `at_s` seconds to `out` as a `size`×`size` JPEG of its
    middle square. Raises `TranscodeError` when FFmpeg fails, takes longer than `timeout_s`, or
    finds no frame there."""
    out.unlink(missing_ok=True)
    finished = await run_child(
        still_command(source, out, at_s=at_s, size=size), timeout_s=timeout_s, what="a still frame"
    )
    if finished.returncode != 0:
        detail = finished.stderr_tail or "no error output"
        raise TranscodeError(f"a still frame failed (FFmpeg exit status {finished.returncode}): {detail}")
    if not out.is_file() or out.stat().st_size == 0:
        raise TranscodeError(f"the video shows no frame at {at_s:.3f} s")
