"""The small outputs beside the ladder: the thumbnail and the upload's own sound.

The thumbnail comes first, before the ladder, so that a client can show it while the ladder is
still being made: an FFmpeg process of its own seeks to the middle, decoding only the reference
frames from the keyframe before it, one frame out. The sound comes after the ladder from one more FFmpeg process
that reads the audio packets and decodes no video (the preview is a branch of the ladder's decode).
"""

from __future__ import annotations

from pathlib import Path

import ffmpeg

from reels.media.errors import TranscodeError
from reels.media.ladder import scaled_size
from reels.media.probe import UNTRUSTED_INPUT_OPTIONS, ProbeFacts
from reels.media.runner import ffmpeg_command, run_ffmpeg

THUMBNAIL = "thumb.jpg"
AUDIO = "audio.m4a"
THUMBNAIL_SHORT_SIDE = 720
THUMBNAIL_JPEG_QUALITY = 3  # FFmpeg's -q:v scale, 2 (best) to 31
AUDIO_BITRATE = 128_000


def thumbnail_command(source: Path, out_dir: Path, facts: ProbeFacts) -> list[str]:
    """The FFmpeg argv writing the first reference frame from the middle of `facts.duration_s` on
    (a frame or two after it) as the thumbnail.

    The input seek lands on the keyframe before the middle and decodes from there: at most one
    GOP of the source, whatever its length, and of that only the frames others refer to
    (skipping the rest, most B-frames, saves ~40 % of the decode)."""
    middle = ffmpeg.input(
        f"file:{source.resolve()}", ss=f"{facts.duration_s / 2:.3f}", skip_frame="noref", **UNTRUSTED_INPUT_OPTIONS
    )
    frame = middle["V:0"].filter("scale", *scaled_size(facts.width, facts.height, THUMBNAIL_SHORT_SIDE))
    out = out_dir.resolve() / THUMBNAIL
    return ffmpeg_command(ffmpeg.output(frame, str(out), frames=1, update=1, **{"q:v": THUMBNAIL_JPEG_QUALITY}))


async def make_thumbnail(source: Path, out_dir: Path, facts: ProbeFacts, *, timeout_s: float) -> bool:
    """Write the thumbnail into `out_dir`; False when FFmpeg found no frame at the middle (the
    header's duration, which it seeks by, may claim more than the file holds)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        await run_ffmpeg(thumbnail_command(source, out_dir, facts), timeout_s=timeout_s, what="thumbnail")
    except TranscodeError:
        return False
    return (out_dir / THUMBNAIL).is_file()


def sound_command(source: Path, out_dir: Path, facts: ProbeFacts) -> list[str]:
    """The FFmpeg argv writing the upload's own sound, never longer than `facts.duration_s` (the
    pipeline passes the transcoded duration: the header may claim less than the file holds)."""
    # AAC is kept as uploaded (no generation loss); anything else becomes AAC.
    codec = {"c:a": "copy"} if facts.audio_codec == "aac" else {"c:a": "aac", "b:a": AUDIO_BITRATE}
    sound = ffmpeg.input(f"file:{source.resolve()}", t=f"{facts.duration_s:.3f}", **UNTRUSTED_INPUT_OPTIONS)["a:0"]
    out = out_dir.resolve() / AUDIO
    return ffmpeg_command(ffmpeg.output(sound, str(out), vn=None, movflags="+faststart", **codec))


async def extract_sound(source: Path, out_dir: Path, facts: ProbeFacts, *, timeout_s: float) -> str:
    """Write the upload's own sound into `out_dir`; its path relative to `out_dir`."""
    await run_ffmpeg(sound_command(source, out_dir, facts), timeout_s=timeout_s, what="sound extraction")
    return AUDIO
