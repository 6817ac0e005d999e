"""`process_source`: everything a worker does to one upload, in one call."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reels.media.artifacts import AUDIO, THUMBNAIL, extract_sound, make_thumbnail
from reels.media.errors import MediaRejected, TranscodeError
from reels.media.frames import FrameSampling
from reels.media.ladder import HLS_DIR, PREVIEW, Ladder, Rendition, transcode_ladder
from reels.media.probe import DURATION_GRACE_S, PROBE_TIMEOUT_S, ProbeFacts, probe, validate

VIDEO_CODEC = "h264"
AUDIO_CODEC = "aac"
# FFmpeg reads this far past the limit (and its grace), so a source that goes on is told apart
# from one that ends right at the limit.
PAST_LIMIT_S = 1.0
# The early thumbnail decodes at most one GOP of the source; past this it is made after the ladder.
THUMBNAIL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ProcessedMedia:
    """What `process_source` wrote. Paths are POSIX paths relative to its `out_dir`."""

    probe: ProbeFacts  # its duration is the transcoded one, not the header's
    renditions: tuple[Rendition, ...]  # lowest first, as listed in the master playlist
    master_playlist_path: str
    # What a player fetches first: the lowest rung's init segment, then its first media segment.
    startup_init_path: str
    startup_segment_path: str
    thumbnail_path: str
    preview_path: str
    audio_path: str | None  # the upload's own sound; None without audio or with `replace_audio`
    video_codec: str
    audio_codec: str | None
    samples: tuple[np.ndarray, ...]  # the frames of each asked `FrameSampling`, in order


async def process_source(
    source: Path,
    out_dir: Path,
    *,
    max_duration_s: float = 90,
    timeout_s: float = 600,
    replace_audio: Path | None = None,
    on_thumbnail: Callable[[str], Awaitable[None]] | None = None,
    samplings: Sequence[FrameSampling] = (),
) -> ProcessedMedia:
    """Probe, validate and transcode `source` into `out_dir` (HLS ladder, thumbnail, preview, sound).

    `replace_audio` ("use this sound") is muxed into every rung instead of the upload's own
    sound, padded or trimmed to the video's length, in the same FFmpeg run as the ladder.
    `on_thumbnail` is awaited with the thumbnail's path as soon as it is written, while the
    ladder is being made, so that it can be shown before the rest is ready.
    `samplings` are frames the caller wants (for the automated checks), taken from the ladder's
    decode rather than a decode of their own.
    `timeout_s` bounds the whole call. Earlier outputs in `out_dir` are replaced, so a job
    killed half-way can simply be run again.

    Raises `MediaRejected` for uploads that can never work and `TranscodeError` for failures
    and timeouts worth retrying.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s

    def time_left(cap: float = timeout_s) -> float:
        left = deadline - loop.time()
        if left <= 0:
            raise TranscodeError(f"processing took longer than {timeout_s:g} s")
        return min(left, cap)

    facts = await probe(source, timeout_s=time_left(PROBE_TIMEOUT_S))
    validate(facts, max_duration_s=max_duration_s)
    if replace_audio is not None:
        await _check_sound(replace_audio, timeout_s=time_left(PROBE_TIMEOUT_S))

    _clear_outputs(out_dir)
    early_thumbnail = await make_thumbnail(source, out_dir, facts, timeout_s=time_left(THUMBNAIL_TIMEOUT_S))
    # The header's duration is a claim: FFmpeg stops reading just past the limit, and what it
    # decoded decides (a longer file is refused, a truncated one keeps the length it has).
    ladder_run = transcode_ladder(
        source,
        out_dir,
        facts,
        timeout_s=time_left(),
        read_limit_s=max_duration_s + DURATION_GRACE_S + PAST_LIMIT_S,
        replace_audio=replace_audio,
        samplings=samplings,
    )
    if early_thumbnail and on_thumbnail is not None:
        ladder = await _while_showing(ladder_run, on_thumbnail(THUMBNAIL))
    else:
        ladder = await ladder_run
    if ladder.duration_s > max_duration_s + DURATION_GRACE_S:
        raise MediaRejected(
            f"video runs past the limit of {max_duration_s:g} s (its header claims {facts.duration_s:.1f} s)"
        )
    facts = dataclasses.replace(facts, duration_s=ladder.duration_s)
    if not early_thumbnail and not await make_thumbnail(source, out_dir, facts, timeout_s=time_left()):
        raise TranscodeError("no frame to make the thumbnail of")
    audio_path = None
    if facts.has_audio and replace_audio is None:
        audio_path = await extract_sound(source, out_dir, facts, timeout_s=time_left())
    lowest = ladder.renditions[0]
    return ProcessedMedia(
        probe=facts,
        renditions=ladder.renditions,
        master_playlist_path=ladder.master_playlist_path,
        startup_init_path=lowest.init_path,
        startup_segment_path=lowest.segment_paths[0],
        thumbnail_path=THUMBNAIL,
        preview_path=ladder.preview_path,
        audio_path=audio_path,
        video_codec=VIDEO_CODEC,
        audio_codec=AUDIO_CODEC if replace_audio is not None or facts.has_audio else None,
        samples=ladder.samples,
    )


async def _while_showing(ladder_run: Awaitable[Ladder], showing: Awaitable[None]) -> Ladder:
    """Run the ladder while the thumbnail is shown; if showing fails, stop the ladder and raise."""
    ladder = asyncio.ensure_future(ladder_run)
    try:
        await showing
        return await ladder
    finally:
        if not ladder.done():
            ladder.cancel()  # its FFmpeg process group is killed
            with contextlib.suppress(asyncio.CancelledError):
                await ladder


async def _check_sound(sound: Path, *, timeout_s: float) -> None:
    try:
        facts = await probe(sound, timeout_s=timeout_s)
    except MediaRejected:
        raise MediaRejected("the chosen sound is not a readable audio file") from None
    if not facts.has_audio:
        raise MediaRejected("the chosen sound has no audio stream")


def _clear_outputs(out_dir: Path) -> None:
    """Remove what an earlier (possibly killed) run left, so no stale rung or file survives."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / HLS_DIR, ignore_errors=True)
    for name in (THUMBNAIL, PREVIEW, AUDIO):
        (out_dir / name).unlink(missing_ok=True)
