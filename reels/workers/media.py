"""The media worker: a `ReelUploaded` job → PROCESSING → FFmpeg ladder → automated checks →
READY (or HELD or BLOCKED by a check, or FAILED).

The checks (reels.moderation, configured by reels.domain.screening) run on every processed
upload: its caption against the term lists, its fingerprint against the blocked reels', and the
classifier hook on its frames, sound and metadata. Their work is CPU-bound and runs in a thread.
Whatever the verdict, the media are stored and the fingerprint kept with the reel, so a moderator
can RESTORE a held or wrongly blocked reel as it is, and BLOCK one to stop its copies at once.

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

from reels import moderation
from reels.domain import audit, lifecycle, screening
from reels.domain.events import ReelDeleted, ReelUploaded, ReplicateReel, Topic, decode_job
from reels.domain.keys import media_prefix, original_audio_key, source_key, source_prefix
from reels.domain.models import Audio, AuditAction, Reel, ReelFingerprint
from reels.domain.unit_of_work import UnitOfWork, unit_of_work
from reels.media.errors import MediaRejected
from reels.media.frames import FrameSampling
from reels.media.pipeline import ProcessedMedia, process_source
from reels.metrics import REPLICATION_LAG
from reels.platform import Platform
from reels.ports.objectstore import ObjectNotFound, copy_prefix
from reels.ports.queue import DeadLetter, Message

log = logging.getLogger(__name__)

GROUP = "media-workers"
STORE_CONCURRENCY = 8
# What the fingerprint is made of (reels.moderation), and what the classifier hook is shown: a
# frame a second, in colour, at the size image models take. Both come from the ladder's decode.
FINGERPRINT_SAMPLING = FrameSampling(moderation.SAMPLE_FPS, moderation.FRAME_SIZE, moderation.FRAME_SIZE)
HOOK_SAMPLING = FrameSampling(1.0, 224, 224, "rgb24")


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
            samplings = (
                [FINGERPRINT_SAMPLING] if platform.checks.hook is None else [FINGERPRINT_SAMPLING, HOOK_SAMPLING]
            )
            media = await process_source(
                source,
                out,
                max_duration_s=platform.settings.max_duration_s,
                timeout_s=platform.settings.transcode_timeout_s,
                replace_audio=sound,
                on_thumbnail=lambda path: _show_thumbnail(platform, reel_id, out, path),
                samplings=samplings,
            )
            transcoded = time.monotonic()
            sound_path = out / media.audio_path if media.audio_path is not None else sound
            fingerprint, verdict, copied = await _check(platform, reel, sound_path, media)
        except MediaRejected as rejected:
            log.info("reel %s rejected: %s", reel_id, rejected.reason)
            await fail(platform, reel_id, rejected.reason)
            return
        checked = time.monotonic()
        outputs = {
            media_prefix(reel_id) + path.relative_to(out).as_posix(): path for path in out.rglob("*") if path.is_file()
        }
        if reel.audio_id is None and media.audio_path is not None:
            outputs[original_audio_key(reel_id)] = out / media.audio_path
        has_own_sound = original_audio_key(reel_id) in outputs
        await _store_files(platform, outputs)
        stored = time.monotonic()
        ready_media = _ready_media(reel_id, media, has_own_sound)
        async with _work(platform) as work:
            # A copy's fingerprint is its original's: kept, it would go on blocking copies after
            # a moderator restored the original.
            if not copied:
                fingerprint_row = ReelFingerprint(reel_id=reel_id, data=screening.fingerprint_bytes(fingerprint))
                await work.session.merge(fingerprint_row)
            match verdict.action:
                case moderation.Action.BLOCK:
                    moved = await lifecycle.block_by_check(work, reel, ready_media, verdict.reason)
                case moderation.Action.HOLD:
                    moved = await lifecycle.hold(work, reel, ready_media, verdict.reason)
                case _:
                    moved = await lifecycle.mark_ready(work, reel, ready_media, replicate=bool(platform.replicas))
            if moved and verdict.findings:
                action = AuditAction.BLOCK_REEL if verdict.action is moderation.Action.BLOCK else AuditAction.HOLD_REEL
                check = verdict.findings[0].check
                audit.record(work.session, action, verdict.reason, check=check, reel_id=reel_id)
        if not moved:
            await _drop_if_deleted(platform, reel_id)
            return
        if verdict.action is moderation.Action.BLOCK and not copied:
            await screening.blocked_reels_changed(platform.kv)  # its copies are stopped too
        log.info(
            "reel %s %s after %.1f s (download %.1f s, probe and FFmpeg %.1f s, checks %.1f s, storing %d files %.1f s)%s",
            reel_id,
            {moderation.Action.BLOCK: "BLOCKED", moderation.Action.HOLD: "HELD"}.get(verdict.action, "READY"),
            time.monotonic() - started,
            downloaded - started,
            transcoded - downloaded,
            checked - transcoded,
            len(outputs),
            stored - checked,
            f": {verdict.reason}" if verdict.reason else "",
        )
        for error in verdict.errors:
            log.warning("reel %s: %s", reel_id, error)


async def _show_thumbnail(platform: Platform, reel_id: int, out: Path, path: str) -> None:
    """Store the thumbnail made before the ladder and put it on the PROCESSING reel."""
    key = media_prefix(reel_id) + path
    await platform.store.put_file(key, out / path)
    async with _work(platform) as work:
        await lifecycle.show_thumbnail(work, reel_id, key)


async def _check(
    platform: Platform, reel: Reel, sound: Path | None, media: ProcessedMedia
) -> tuple[moderation.Fingerprint, moderation.Verdict, bool]:
    """The upload's fingerprint, the automated checks' verdict on it, and whether it copies a
    blocked reel. The frames are the samplings `process` asked of the ladder, in its order."""
    fingerprint = await asyncio.to_thread(moderation.fingerprint, media.samples[0])
    checks = platform.checks
    hook_frames = media.samples[1] if checks.hook is not None else None
    metadata = {
        "reel_id": screening.reel_global_id(reel.id),
        "caption": reel.caption,
        "duration_s": media.probe.duration_s,
        "width": media.probe.width,
        "height": media.probe.height,
    }
    local = await asyncio.to_thread(
        moderation.check,
        caption=reel.caption,
        terms=checks.terms,
        hook=checks.hook,
        frames=hook_frames,
        audio_path=sound,
        metadata=metadata,
    )
    copy = await platform.blocked_reels.verdict(platform.sessions, platform.kv, fingerprint)
    return fingerprint, moderation.Verdict.combine(local, copy), copy.action is moderation.Action.BLOCK


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
