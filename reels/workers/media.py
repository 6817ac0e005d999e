"""The media worker: a `ReelUploaded` job → PROCESSING → FFmpeg ladder → READY (or FAILED).

Idempotent, because the queue is at-least-once: a reel already READY, BLOCKED, FAILED or deleted
is left alone, a redo after a killed worker overwrites the same object keys, and of two runs
finishing the same reel only one moves it to READY (and creates its sound and notification).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from reels.domain import notifications
from reels.domain.models import Audio, Hashtag, NotificationKind, Reel, ReelHashtag, ReelStatus, User
from reels.domain.reels import MEDIA_TOPIC
from reels.domain.uploads import source_key
from reels.media.errors import MediaRejected
from reels.media.pipeline import ProcessedMedia, process_source
from reels.metrics import REPLICATION_LAG
from reels.platform import Platform
from reels.ports.objectstore import ObjectNotFound, copy_prefix
from reels.ports.queue import DeadLetter, Message
from reels.subscriptions import channels
from reels.workers.fanout import FANOUT_TOPIC

log = logging.getLogger(__name__)

IN_PROGRESS = {ReelStatus.UPLOADED, ReelStatus.PROCESSING}
STORE_CONCURRENCY = 8


def media_prefix(reel_id: int) -> str:
    return f"reels/{reel_id}/"


def source_prefix(reel_id: int) -> str:
    return source_key(reel_id).rsplit("/", 1)[0] + "/"


def original_audio_key(reel_id: int) -> str:
    """Where a reel's own sound is kept: named after the reel, so a redo overwrites it."""
    return f"audio/{reel_id}/original.m4a"


async def handle(platform: Platform, payload: dict[str, Any]) -> None:
    """One `media` job. Events of one reel share a partition key."""
    reel_id = int(payload["reel_id"])
    match payload["type"]:
        case "ReelUploaded":
            await process(platform, reel_id)
        case "ReplicateReel":
            await replicate(platform, reel_id, payload["ready_at"])
        case "ReelDeleted":
            await delete_media(platform, reel_id)
        case other:
            raise ValueError(f"unknown media job type {other!r}")


async def on_dead_letter(platform: Platform, message: Message, reason: str) -> None:
    """Every try failed: a reel being processed ends FAILED (other jobs just stay dead-lettered)."""
    if message.payload.get("type") == "ReelUploaded":
        await fail(platform, int(message.payload["reel_id"]), f"processing failed after {message.attempts} tries")


async def before_requeue(platform: Platform, letter: DeadLetter) -> None:
    """`reels jobs retry`: a reel its dead-lettered job left FAILED goes back to UPLOADED, so the
    requeued job processes it again."""
    if letter.payload.get("type") != "ReelUploaded":
        return
    reel_id = int(letter.payload["reel_id"])
    async with platform.sessions() as session:
        moved = await session.execute(
            update(Reel)
            .where(Reel.id == reel_id, Reel.status == ReelStatus.FAILED, Reel.deleted_at.is_(None))
            .values(status=ReelStatus.UPLOADED, status_reason=None)
        )
        await session.commit()
    if moved.rowcount:
        await channels.publish(platform.pubsub, channels.reel_status(reel_id), {"status": ReelStatus.UPLOADED.value})


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
    reel = await _set_status(platform, reel_id, ReelStatus.PROCESSING, only_from=IN_PROGRESS)
    if reel is None:
        await _queue_fanout_if_ready(platform, reel_id)
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"reel-{reel_id}-") as scratch:
        work = Path(scratch)
        out = work / "out"
        source = work / "source"
        await platform.store.download_file(source_key(reel_id), source)
        downloaded = time.monotonic()
        try:
            sound = await _chosen_sound(platform, reel, work / "sound.m4a")
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
        if reel.audio_id is None and media.audio_path:
            outputs[original_audio_key(reel_id)] = out / media.audio_path
        await _store_files(platform, outputs)
        stored = time.monotonic()
        if await _mark_ready(platform, reel, media):
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


async def fail(platform: Platform, reel_id: int, reason: str) -> None:
    """FAILED with a reason a person can read, and the uploader is told."""
    await _set_status(
        platform, reel_id, ReelStatus.FAILED, reason=reason, only_from=IN_PROGRESS, notify=NotificationKind.REEL_FAILED
    )


async def _set_status(
    platform: Platform,
    reel_id: int,
    status: ReelStatus,
    *,
    only_from: set[ReelStatus],
    reason: str | None = None,
    notify: NotificationKind | None = None,
) -> Reel | None:
    """Move the reel to `status` when it is in one of `only_from`, in one conditional UPDATE so
    two workers cannot both move it; publish the change. None when it was not moved."""
    async with platform.sessions() as session:
        moved = await session.execute(
            update(Reel)
            .where(Reel.id == reel_id, Reel.deleted_at.is_(None), Reel.status.in_(only_from))
            .values(status=status, status_reason=reason)
        )
        if moved.rowcount != 1:
            return None
        reel = await session.get(Reel, reel_id)
        assert reel is not None  # just updated, in this transaction
        staged = [notifications.add(session, reel.creator_id, notify, reel_id=reel_id)] if notify else []
        await session.commit()
    await channels.publish(platform.pubsub, channels.reel_status(reel_id), {"status": status.value})
    await notifications.publish(platform.pubsub, *staged)
    return reel


async def _mark_ready(platform: Platform, reel: Reel, media: ProcessedMedia) -> bool:
    """READY, with the media facts, the sound and the notification; False when another run got
    there first or the reel was deleted or blocked meanwhile."""
    prefix = media_prefix(reel.id)
    facts = media.probe
    duration_ms = round(facts.duration_s * 1000)
    if platform.replicas:
        # Queued before the commit: if this process dies in between, the redo queues it again
        # (copying is idempotent); after the commit it could be lost.
        await platform.queue.publish(
            MEDIA_TOPIC,
            {"type": "ReplicateReel", "reel_id": reel.id, "ready_at": time.time()},
            key=str(reel.id),
            lane="bulk",
        )
    async with platform.sessions() as session:
        # The conditional UPDATE is the claim: of two workers finishing the same reel (a redo
        # after a presumed-dead worker), exactly one moves it to READY and counts its sound.
        won = await session.execute(
            update(Reel)
            .where(Reel.id == reel.id, Reel.status == ReelStatus.PROCESSING, Reel.deleted_at.is_(None))
            .values(
                status=ReelStatus.READY,
                status_reason=None,
                duration_ms=duration_ms,
                width=facts.width,
                height=facts.height,
                fps=facts.fps,
                media=_media_manifest(prefix, media),
            )
        )
        if won.rowcount != 1:
            return False
        if reel.audio_id is None and media.audio_path:
            creator = await session.get(User, reel.creator_id)
            sound = Audio(
                title=f"Original audio · @{creator.username if creator else 'unknown'}",
                creator_id=reel.creator_id,
                original_reel_id=reel.id,
                duration_ms=duration_ms,
                use_count=1,
                storage_key=original_audio_key(reel.id),
            )
            session.add(sound)
            await session.flush()
            await session.execute(update(Reel).where(Reel.id == reel.id).values(audio_id=sound.id))
        elif reel.audio_id is not None:
            await session.execute(update(Audio).where(Audio.id == reel.audio_id).values(use_count=Audio.use_count + 1))
        tagged = select(ReelHashtag.hashtag_id).where(ReelHashtag.reel_id == reel.id)
        await session.execute(update(Hashtag).where(Hashtag.id.in_(tagged)).values(reel_count=Hashtag.reel_count + 1))
        staged = notifications.add(session, reel.creator_id, NotificationKind.REEL_READY, reel_id=reel.id)
        await session.commit()
    await channels.publish(platform.pubsub, channels.reel_status(reel.id), {"status": ReelStatus.READY.value})
    await notifications.publish(platform.pubsub, staged)
    await _queue_fanout(platform, reel.id)
    return True


async def _queue_fanout(platform: Platform, reel_id: int) -> None:
    """Followers hear of a READY reel from the fan-out consumer, which skips reels no longer
    READY and followers already told, so queueing it twice is harmless."""
    await platform.queue.publish(FANOUT_TOPIC, {"reel_id": reel_id}, key=str(reel_id))


async def _queue_fanout_if_ready(platform: Platform, reel_id: int) -> None:
    """A job redelivered for a reel that is READY: the run that made it READY may have died
    before queueing the fan-out (its job was not acknowledged, hence this delivery)."""
    async with platform.sessions() as session:
        status = await session.scalar(select(Reel.status).where(Reel.id == reel_id, Reel.deleted_at.is_(None)))
    if status == ReelStatus.READY:
        await _queue_fanout(platform, reel_id)


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
