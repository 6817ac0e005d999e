"""The media worker: a `ReelUploaded` job → PROCESSING → FFmpeg ladder → READY (or FAILED).

Idempotent, because the queue is at-least-once: a reel already READY, BLOCKED, FAILED or deleted
is left alone (a READY one has its follow-up jobs queued again), a redo after a killed worker
overwrites the same object keys, and of two runs finishing the same reel only one moves it to
READY (reels.domain.lifecycle makes every such move a conditional UPDATE).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from reels.domain import lifecycle
from reels.domain.events import ReelDeleted, ReelUploaded, ReplicateReel, Topic, decode_job
from reels.domain.keys import media_prefix, original_audio_key, source_key, source_prefix
from reels.domain.models import Audio, Reel
from reels.domain.unit_of_work import UnitOfWork, unit_of_work
from reels.media.errors import MediaRejected
from reels.media.pipeline import ProcessedMedia, process_source
from reels.metrics import REPLICATION_LAG
from reels.platform import Platform
from reels.ports.objectstore import ObjectNotFound, copy_prefix
from reels.ports.queue import DeadLetter, Message

log = logging.getLogger(__name__)

GROUP = "media-workers"
STORE_CONCURRENCY = 8


def _work(platform: Platform) -> AbstractAsyncContextManager[UnitOfWork]:
    return unit_of_work(platform.sessions, platform.queue, platform.pubsub)


async def handle(platform: Platform, payload: dict[str, Any]) -> None:
    """One `media` job. Jobs of one reel share a partition."""
    match decode_job(Topic.MEDIA, payload):
        case ReelUploaded(reel_id=reel_id):
            await process(platform, reel_id)
        case ReplicateReel(reel_id=reel_id, ready_at=ready_at):
            await replicate(platform, reel_id, ready_at)
        case ReelDeleted(reel_id=reel_id):
            await delete_media(platform, reel_id)
        case other:
            raise ValueError(f"{other!r} is not a media job")


async def on_dead_letter(platform: Platform, message: Message, reason: str) -> None:
    """Every try failed: a reel being processed ends FAILED (other jobs just stay dead-lettered)."""
    job = decode_job(message.topic, message.payload)
    if isinstance(job, ReelUploaded):
        await fail(platform, job.reel_id, f"processing failed after {message.attempts} tries")


async def before_requeue(platform: Platform, letter: DeadLetter) -> None:
    """`reels jobs retry`: a reel its dead-lettered job left FAILED goes back to UPLOADED, so the
    requeued job processes it again."""
    job = decode_job(letter.topic, letter.payload)
    if isinstance(job, ReelUploaded):
        async with _work(platform) as work:
            await lifecycle.retry_failed(work, job.reel_id)


async def replicate(platform: Platform, reel_id: int, ready_at: float) -> None:
    """Copy a READY reel's outputs to every replica store (another region's bucket); the lag
    from READY to replicated is what /metrics shows. A reel deleted meanwhile is not copied."""
    async with platform.sessions() as session:
        reel = await session.get(Reel, reel_id)
    if reel is None or reel.deleted_at is not None:
        return
    for replica in platform.replicas:
        await copy_prefix(platform.store, replica, media_prefix(reel_id))
    REPLICATION_LAG.observe(max(0.0, time.time() - ready_at))


async def delete_media(platform: Platform, reel_id: int) -> None:
    """A deleted reel's outputs leave every store, and its source the primary one. The sound
    stays: other reels may use it."""
    for store in (platform.store, *platform.replicas):
        await store.delete_prefix(media_prefix(reel_id))
    await platform.store.delete_prefix(source_prefix(reel_id))


async def process(platform: Platform, reel_id: int) -> None:
    """Transcode one reel. MediaRejected ends in FAILED here; other errors propagate for a retry."""
    async with _work(platform) as work:
        reel = await lifecycle.start_processing(work, reel_id)
        if reel is None:
            await lifecycle.requeue_ready_jobs(work, reel_id, replicate=bool(platform.replicas))
    if reel is None:
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"reel-{reel_id}-") as scratch:
        work_dir = Path(scratch)
        out = work_dir / "out"
        source = work_dir / "source"
        await platform.store.download_file(source_key(reel_id), source)
        downloaded = time.monotonic()
        try:
            sound = await _chosen_sound(platform, reel, work_dir / "sound.m4a")
            media = await process_source(
                source,
                out,
                max_duration_s=platform.settings.max_duration_s,
                timeout_s=platform.settings.transcode_timeout_s,
                replace_audio=sound,
            )
        except MediaRejected as rejected:
            log.info("reel %s rejected: %s", reel_id, rejected.reason)
            await fail(platform, reel_id, rejected.reason)
            return
        transcoded = time.monotonic()
        outputs = {
            media_prefix(reel_id) + path.relative_to(out).as_posix(): path for path in out.rglob("*") if path.is_file()
        }
        if reel.audio_id is None and media.audio_path is not None:
            outputs[original_audio_key(reel_id)] = out / media.audio_path
        has_own_sound = original_audio_key(reel_id) in outputs
        await _store_files(platform, outputs)
        stored = time.monotonic()
        async with _work(platform) as work:
            ready = await lifecycle.mark_ready(
                work, reel, _ready_media(reel_id, media, has_own_sound), replicate=bool(platform.replicas)
            )
        if ready:
            log.info(
                "reel %s READY after %.1f s (download %.1f s, probe and FFmpeg %.1f s, storing %d files %.1f s)",
                reel_id,
                time.monotonic() - started,
                downloaded - started,
                transcoded - downloaded,
                len(outputs),
                stored - transcoded,
            )
        else:
            await _drop_if_deleted(platform, reel_id)


async def fail(platform: Platform, reel_id: int, reason: str) -> None:
    """FAILED with a reason a person can read, and the uploader is told."""
    async with _work(platform) as work:
        await lifecycle.fail(work, reel_id, reason)


async def _store_files(platform: Platform, files: dict[str, Path]) -> None:
    """Put the outputs a few at a time: a 90 s reel has a few hundred segments, and one at a
    time the round trips to S3 would add up to more than the transcode."""
    slots = asyncio.Semaphore(STORE_CONCURRENCY)

    async def put(key: str, path: Path) -> None:
        async with slots:
            await platform.store.put_file(key, path)

    try:
        async with asyncio.TaskGroup() as group:  # one failure cancels the rest
            for key, path in sorted(files.items()):
                group.create_task(put(key, path))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the job's error, as the dead letter shows it


async def _chosen_sound(platform: Platform, reel: Reel, path: Path) -> Path | None:
    """The sound the creator picked (createUpload's audioId), downloaded to `path`."""
    if reel.audio_id is None:
        return None
    async with platform.sessions() as session:
        audio = await session.get(Audio, reel.audio_id)
    if audio is None or not audio.storage_key:
        raise MediaRejected("the chosen sound is no longer available")
    try:
        await platform.store.download_file(audio.storage_key, path)
    except ObjectNotFound:
        raise MediaRejected("the chosen sound is no longer available") from None
    return path


async def _drop_if_deleted(platform: Platform, reel_id: int) -> None:
    """A reel deleted while it was processing: its delete job may have run before our uploads."""
    async with platform.sessions() as session:
        reel = await session.get(Reel, reel_id)
    if reel is None or reel.deleted_at is not None:
        await delete_media(platform, reel_id)


def _ready_media(reel_id: int, media: ProcessedMedia, has_own_sound: bool) -> lifecycle.ReadyMedia:
    facts = media.probe
    return lifecycle.ReadyMedia(
        duration_ms=round(facts.duration_s * 1000),
        width=facts.width,
        height=facts.height,
        fps=facts.fps,
        manifest=_media_manifest(media_prefix(reel_id), media),
        has_own_sound=has_own_sound,
    )


def _media_manifest(prefix: str, media: ProcessedMedia) -> dict[str, Any]:
    """Object keys and facts of a READY reel's media, as stored in `reels.media`."""
    facts = media.probe
    return {
        "hls": prefix + media.master_playlist_path,
        "renditions": [
            {
                "width": r.width,
                "height": r.height,
                "bandwidth": r.bandwidth,
                "average_bandwidth": r.average_bandwidth,
                "codecs": r.codecs,
                "playlist": prefix + r.playlist_path,
                "segment_durations": list(r.segment_durations),
            }
            for r in media.renditions
        ],
        "startup_init": prefix + media.startup_init_path,
        "startup_segment": prefix + media.startup_segment_path,
        "thumbnail": prefix + media.thumbnail_path,
        "preview": prefix + media.preview_path,
        "video_codec": media.video_codec,
        "audio_codec": media.audio_codec,
        "source": {
            "container": facts.container_format,
            "video_codec": facts.video_codec,
            "audio_codec": facts.audio_codec,
            "bitrate": facts.bitrate,
            "rotation": facts.rotation,
        },
    }
