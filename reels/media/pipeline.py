"""`process_source`: everything a worker does to one upload, in one call."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from reels.media.artifacts import AUDIO, PREVIEW, THUMBNAIL, make_artifacts, make_thumbnail
from reels.media.errors import MediaRejected, TranscodeError
from reels.media.ladder import HLS_DIR, Rendition, transcode_ladder
from reels.media.probe import DURATION_GRACE_S, PROBE_TIMEOUT_S, ProbeFacts, probe, validate

VIDEO_CODEC = "h264"
AUDIO_CODEC = "aac"
# FFmpeg reads this far past the limit (and its grace), so a source that goes on is told apart
# from one that ends right at the limit.
PAST_LIMIT_S = 1.0
# The early thumbnail decodes two seconds of the source; past this it is made after the ladder.
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


async def process_source(
    source: Path,
    out_dir: Path,
    *,
    max_duration_s: float = 90,
    timeout_s: float = 600,
    replace_audio: Path | None = None,
    on_thumbnail: Callable[[str], Awaitable[None]] | None = None,
) -> ProcessedMedia:
    """Probe, validate and transcode `source` into `out_dir` (HLS ladder, thumbnail, preview, sound).

    `replace_audio` ("use this sound") is muxed into every rung instead of the upload's own
    sound, padded or trimmed to the video's length, in the same FFmpeg run as the ladder.
    `on_thumbnail` is awaited with the thumbnail's path as soon as it is written, before the
    ladder, so that it can be shown while the rest is made.
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
    if early_thumbnail and on_thumbnail is not None:
        await on_thumbnail(THUMBNAIL)
    # The header's duration is a claim: FFmpeg stops reading just past the limit, and what it
    # decoded decides (a longer file is refused, a truncated one keeps the length it has).
    ladder = await transcode_ladder(
        source,
        out_dir,
        facts,
        timeout_s=time_left(),
        read_limit_s=max_duration_s + DURATION_GRACE_S + PAST_LIMIT_S,
        replace_audio=replace_audio,
    )
    if ladder.duration_s > max_duration_s + DURATION_GRACE_S:
        raise MediaRejected(
            f"video runs past the limit of {max_duration_s:g} s (its header claims {facts.duration_s:.1f} s)"
        )
    facts = dataclasses.replace(facts, duration_s=ladder.duration_s)
    artifacts = await make_artifacts(
        source,
        out_dir,
        facts,
        timeout_s=time_left(),
        extract_audio=facts.has_audio and replace_audio is None,
        thumbnail=not early_thumbnail,
    )
    lowest = ladder.renditions[0]
    return ProcessedMedia(
        probe=facts,
        renditions=ladder.renditions,
        master_playlist_path=ladder.master_playlist_path,
        startup_init_path=lowest.init_path,
        startup_segment_path=lowest.segment_paths[0],
        thumbnail_path=artifacts.thumbnail_path,
        preview_path=artifacts.preview_path,
        audio_path=artifacts.audio_path,
        video_codec=VIDEO_CODEC,
        audio_codec=AUDIO_CODEC if replace_audio is not None or facts.has_audio else None,
    )


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
