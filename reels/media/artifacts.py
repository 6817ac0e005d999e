"""The small outputs beside the ladder: thumbnail, muted preview and the upload's own sound.

The thumbnail comes first, from an FFmpeg process of its own (a seek to the middle), so that a
client can show it while the ladder is still being made; preview and sound come after the
ladder from one more FFmpeg process reading the source twice (the first seconds for the
preview, the audio packets for the sound), with the thumbnail too when the early one failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from reels.media.errors import TranscodeError
from reels.media.ladder import output_fps, scaled_size
from reels.media.probe import UNTRUSTED_INPUT_OPTIONS, ProbeFacts
from reels.media.runner import ffmpeg_command, run_ffmpeg

THUMBNAIL = "thumb.jpg"
PREVIEW = "preview.mp4"
AUDIO = "audio.m4a"
THUMBNAIL_SHORT_SIDE = 720
# The `thumbnail` filter picks the most typical frame of this window after the middle.
THUMBNAIL_WINDOW_S = 2.0
THUMBNAIL_JPEG_QUALITY = 3  # FFmpeg's -q:v scale, 2 (best) to 31
PREVIEW_S = 3.0
PREVIEW_SHORT_SIDE = 360
PREVIEW_CRF = 28
AUDIO_BITRATE = 128_000


@dataclass(frozen=True)
class Artifacts:
    """Paths relative to the output directory."""

    thumbnail_path: str
    preview_path: str
    audio_path: str | None


def _thumbnail_output(url: str, out_dir: Path, facts: ProbeFacts) -> Any:
    fps = output_fps(facts.fps)
    middle = ffmpeg.input(url, ss=f"{facts.duration_s / 2:.3f}", t=THUMBNAIL_WINDOW_S, **UNTRUSTED_INPUT_OPTIONS)
    # Scaling before `thumbnail` keeps its frame buffer small even for 4K sources.
    frame = (
        middle["V:0"]
        .filter("fps", fps=str(fps))
        .filter("scale", *scaled_size(facts.width, facts.height, THUMBNAIL_SHORT_SIDE))
        .filter("thumbnail", n=max(1, round(THUMBNAIL_WINDOW_S * fps)))
    )
    return ffmpeg.output(frame, str(out_dir / THUMBNAIL), frames=1, update=1, **{"q:v": THUMBNAIL_JPEG_QUALITY})


def thumbnail_command(source: Path, out_dir: Path, facts: ProbeFacts) -> list[str]:
    """The FFmpeg argv writing the thumbnail alone, from the middle of `facts.duration_s`."""
    return ffmpeg_command(_thumbnail_output(f"file:{source.resolve()}", out_dir.resolve(), facts))


async def make_thumbnail(source: Path, out_dir: Path, facts: ProbeFacts, *, timeout_s: float) -> bool:
    """Write the thumbnail into `out_dir` before the ladder; False when FFmpeg found no frame
    there (the header's duration, which it seeks by, may claim more than the file holds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        await run_ffmpeg(thumbnail_command(source, out_dir, facts), timeout_s=timeout_s, what="thumbnail")
    except TranscodeError:
        return False
    return (out_dir / THUMBNAIL).is_file()


def artifacts_command(
    source: Path, out_dir: Path, facts: ProbeFacts, *, extract_audio: bool, thumbnail: bool = True
) -> list[str]:
    """The FFmpeg argv writing the preview, (with `extract_audio`) the sound and (with
    `thumbnail`) the thumbnail.

    `facts.duration_s` is taken as the truth: the pipeline passes the transcoded duration."""
    out_dir = out_dir.resolve()
    url = f"file:{source.resolve()}"
    fps = output_fps(facts.fps)
    outputs = [_thumbnail_output(url, out_dir, facts)] if thumbnail else []

    opening = ffmpeg.input(url, t=PREVIEW_S, **UNTRUSTED_INPUT_OPTIONS)
    preview = (
        opening["V:0"]
        .filter("fps", fps=str(fps))
        .filter("scale", *scaled_size(facts.width, facts.height, PREVIEW_SHORT_SIDE))
        .filter("format", "yuv420p")
    )
    outputs.append(
        ffmpeg.output(
            preview,
            str(out_dir / PREVIEW),
            an=None,
            movflags="+faststart",
            preset="veryfast",
            crf=PREVIEW_CRF,
            **{"c:v": "libx264", "profile:v": "high"},
        )
    )

    if extract_audio:
        # AAC is kept as uploaded (no generation loss); anything else becomes AAC.
        codec = {"c:a": "copy"} if facts.audio_codec == "aac" else {"c:a": "aac", "b:a": AUDIO_BITRATE}
        # Never more sound than the video had: the header may claim less than the file holds.
        sound = ffmpeg.input(url, t=f"{facts.duration_s:.3f}", **UNTRUSTED_INPUT_OPTIONS)["a:0"]
        outputs.append(ffmpeg.output(sound, str(out_dir / AUDIO), vn=None, movflags="+faststart", **codec))
    return ffmpeg_command(ffmpeg.merge_outputs(*outputs))


async def make_artifacts(
    source: Path, out_dir: Path, facts: ProbeFacts, *, timeout_s: float, extract_audio: bool, thumbnail: bool = True
) -> Artifacts:
    """Write the preview, (with `extract_audio`) `audio.m4a` and (with `thumbnail`) the
    thumbnail into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = artifacts_command(source, out_dir, facts, extract_audio=extract_audio, thumbnail=thumbnail)
    await run_ffmpeg(argv, timeout_s=timeout_s, what="preview and audio extraction")
    return Artifacts(THUMBNAIL, PREVIEW, AUDIO if extract_audio else None)
