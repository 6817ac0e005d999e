"""The demo's source clips, made by FFmpeg from its synthetic sources (no footage ships with Reels)."""

from __future__ import annotations

from pathlib import Path

from reels.demo.plan import DemoClip
from reels.media.runner import ffmpeg_binary, run_ffmpeg

# A source only has to be good enough to be transcoded: the fastest x264 preset keeps making
# a clip several times cheaper than transcoding it, so clips stay ahead of the worker.
SOURCE_PRESET = "ultrafast"
SOURCE_CRF = "24"
CLIP_TIMEOUT_S = 120


async def make_clip(clip: DemoClip, path: Path) -> None:
    await run_ffmpeg(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            clip.video,
            "-f",
            "lavfi",
            "-i",
            clip.audio,
            "-t",
            str(clip.seconds),
            "-c:v",
            "libx264",
            "-preset",
            SOURCE_PRESET,
            "-crf",
            SOURCE_CRF,
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            "-movflags",
            "+faststart",
            "-y",
            str(path),
        ],
        timeout_s=CLIP_TIMEOUT_S,
        what="making a demo clip",
    )
