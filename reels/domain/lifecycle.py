"""The reel state machine: the only writer of `reels.status` (and of `deleted_at`).

| function | from | to | who calls it |
|---|---|---|---|
| complete_upload | INIT | UPLOADED | completeUpload |
| start_processing | UPLOADED, PROCESSING (a redo) | PROCESSING | the media worker |
| mark_ready | PROCESSING | READY | the media worker |
| hold | PROCESSING | HELD | the media worker, when a check holds it |
| block_by_check | PROCESSING | BLOCKED | the media worker, when a check blocks it |
| hold_for_review | READY | HELD | reportReel, at REELS_AUTO_HIDE_REPORTS reporters |
| fail | UPLOADED, PROCESSING | FAILED | the media worker, a dead-lettered job |
| abandon | INIT | FAILED | the maintenance sweep (upload never completed) |
| retry_failed | FAILED | UPLOADED | `reels jobs retry` |
| block | every state but BLOCKED (HELD included) | BLOCKED | moderateReel(BLOCK) |
| restore | BLOCKED once processed, HELD | READY | moderateReel(RESTORE) |
| delete | every state | deleted (`deleted_at`; the status stays) | deleteReel |

A new reel is INIT (the model's default) and only these functions move it. One more writes a
PROCESSING reel without moving it: `show_thumbnail` puts the thumbnail made before the ladder
on it, so its creator's client shows it while the rest is made.

Each transition is one function that, inside the caller's unit of work (one transaction):
- moves the reel with a conditional UPDATE from the states it allows, so of two workers or
  moderators racing, exactly one moves it; a caller that must not lose the race (a moderator)
  gets a DomainError naming why, a worker just learns it lost (False / None);
- moves every count derived from the reel: a hashtag's `reel_count` and an audio's `use_count`
  count the reel while it is READY and not deleted (READY→BLOCKED and deleting a READY reel take
  it off, BLOCKED→READY puts it back, READY creates the reel's own sound);
- records the reason (`status_reason`), or clears it;
- stages the `reelStatus` event and the follow-up jobs (fan-out and replication after READY,
  media deletion after delete), which the unit of work sends after the commit.

Messages go out after the commit, so a consumer always finds what a message announces. A
process that dies between the commit and the send loses them; that is recovered so that what
matters is delivered at least once:
- UPLOADED without its media job: the maintenance sweep queues reels left UPLOADED or PROCESSING
  again (`requeue_stuck_reels`), and on the embedded queue every such reel at start-up;
- READY without its fan-out or replication job: the media job that made it READY was not
  acknowledged, so the queue delivers it again and `requeue_ready_jobs` queues both again (both
  are idempotent: followers already told are skipped, copies overwrite);
- a lost status event leaves a `reelStatus` subscriber waiting for the next one; a subscriber
  reads the reel when it subscribes, so a new subscription sees where the reel stands; a lost
  notification event leaves the notification in the inbox, unannounced;
- a lost media-deletion job leaves the deleted reel's files in the store (no read path serves
  them: playlists of a deleted reel answer 404).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select, update

from reels.domain import keys, notifications, sounds
from reels.domain.errors import invalid
from reels.domain.events import FanOutReel, ReelDeleted, ReelStatusChanged, ReelUploaded, ReplicateReel
from reels.domain.models import (
    Audio,
    Hashtag,
    Notification,
    NotificationKind,
    Reel,
    ReelHashtag,
    ReelStatus,
    Upload,
    User,
)
from reels.domain.unit_of_work import UnitOfWork

IN_PROGRESS = frozenset({ReelStatus.UPLOADED, ReelStatus.PROCESSING})
BLOCKABLE = frozenset(set(ReelStatus) - {ReelStatus.BLOCKED})
RESTORABLE = frozenset({ReelStatus.BLOCKED, ReelStatus.HELD})
# Where a reel counts towards its hashtags' reel_count and its sound's use_count.
COUNTED = ReelStatus.READY


@dataclass(frozen=True)
class ReadyMedia:
    """What processing produced: the facts and object keys stored on the READY reel."""

    duration_ms: int
    width: int
    height: int
    fps: float
    manifest: Mapping[str, Any]
    # Whether the reel's own sound was stored (at keys.original_audio_key): not when the video
    # is silent or the creator picked a sound.
    has_own_sound: bool


async def _move(
    work: UnitOfWork,
    reel_id: int,
    sources: Collection[ReelStatus],
    target: ReelStatus,
    *,
    reason: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Move a live reel from one of `sources` to `target` (setting `values` too) and its counts
    with it: one conditional UPDATE per group of sources that count alike, so the counts know
    which kind of state it left. False when it was in none of them."""
    counted = [status for status in sources if status == COUNTED]
    uncounted = [status for status in sources if status != COUNTED]
    for group in (counted, uncounted):
        if not group:
            continue
        moved = await work.session.scalar(
            update(Reel)
            .where(Reel.id == reel_id, Reel.deleted_at.is_(None), Reel.status.in_(group))
            .values(status=target, status_reason=reason, **(values or {}))
            .returning(Reel.id)
            .execution_options(synchronize_session=False)
        )
        if moved is not None:
            await _recount(work, reel_id, int(target == COUNTED) - int(group is counted))
            work.publish(ReelStatusChanged(reel_id, target))
            return True
    return False


async def _recount(work: UnitOfWork, reel_id: int, delta: int) -> None:
    """Add `delta` to the counts the reel contributes to: its hashtags' and its sound's."""
    if delta == 0:
        return
    tagged = select(ReelHashtag.hashtag_id).where(ReelHashtag.reel_id == reel_id)
    await work.session.execute(
        update(Hashtag)
        .where(Hashtag.id.in_(tagged))
        .values(reel_count=Hashtag.reel_count + delta)
        .execution_options(synchronize_session=False)
    )
    sound = select(Reel.audio_id).where(Reel.id == reel_id).scalar_subquery()
    await work.session.execute(
        update(Audio)
        .where(Audio.id == sound)
        .values(use_count=Audio.use_count + delta)
        .execution_options(synchronize_session=False)
    )


async def retag(work: UnitOfWork, reel: Reel, hashtag_ids: Collection[int]) -> None:
    """The reel's hashtags become `hashtag_ids` (a caption edit). A reel that counts (READY, not
    deleted) moves its count from the tags it lost to the tags it gained."""
    had = set((await work.session.scalars(select(ReelHashtag.hashtag_id).where(ReelHashtag.reel_id == reel.id))).all())
    lost, gained = had - set(hashtag_ids), set(hashtag_ids) - had
    if lost:
        await work.session.execute(
            sql_delete(ReelHashtag).where(ReelHashtag.reel_id == reel.id, ReelHashtag.hashtag_id.in_(lost))
        )
    work.session.add_all(ReelHashtag(reel_id=reel.id, hashtag_id=hashtag_id) for hashtag_id in gained)
    if reel.status == ReelStatus.READY and reel.deleted_at is None:
        for tags, delta in ((lost, -1), (gained, 1)):
            if tags:
                await work.session.execute(
                    update(Hashtag)
                    .where(Hashtag.id.in_(tags))
                    .values(reel_count=Hashtag.reel_count + delta)
                    .execution_options(synchronize_session=False)
                )


async def _current(work: UnitOfWork, reel_id: int) -> Reel:
    reel = await work.session.get(Reel, reel_id, populate_existing=True)
    assert reel is not None  # just moved, in this transaction
    return reel


async def complete_upload(work: UnitOfWork, reel_id: int, *, lane: str) -> bool:
    """INIT → UPLOADED, the upload marked completed and the reel queued for processing in `lane`."""
    if not await _move(work, reel_id, {ReelStatus.INIT}, ReelStatus.UPLOADED):
        return False
    await work.session.execute(
        update(Upload)
        .where(Upload.reel_id == reel_id)
        .values(completed_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    work.send(ReelUploaded(reel_id), lane=lane)
    return True


async def start_processing(work: UnitOfWork, reel_id: int) -> Reel | None:
    """UPLOADED (or PROCESSING again, a redo after a dead worker) → PROCESSING; None when the
    reel is in no state to be processed (READY, FAILED, BLOCKED, deleted)."""
    if not await _move(work, reel_id, IN_PROGRESS, ReelStatus.PROCESSING):
        return None
    return await _current(work, reel_id)


async def show_thumbnail(work: UnitOfWork, reel_id: int, key: str) -> bool:
    """A PROCESSING reel's media becomes its early thumbnail alone (READY replaces the whole
    media, the same thumbnail included), and its live `reelStatus` subscribers read it again
    to show it. False when it is no longer PROCESSING."""
    shown = await work.session.scalar(
        update(Reel)
        .where(Reel.id == reel_id, Reel.deleted_at.is_(None), Reel.status == ReelStatus.PROCESSING)
        .values(media={"thumbnail": key})
        .returning(Reel.id)
        .execution_options(synchronize_session=False)
    )
    if shown is None:
        return False
    work.publish(ReelStatusChanged(reel_id, ReelStatus.PROCESSING))
    return True


async def mark_ready(work: UnitOfWork, reel: Reel, media: ReadyMedia, *, replicate: bool) -> bool:
    """PROCESSING → READY with its media, its own sound created (or the chosen one counted), its
    creator told, its followers' fan-out and (with replica stores) its replication queued.
    False when another run got there first, or the reel was deleted or blocked meanwhile."""
    if not await _finish(work, reel, media, ReelStatus.READY):
        return False
    await _announce_ready(work, reel, replicate=replicate)
    return True


async def hold(work: UnitOfWork, reel: Reel, media: ReadyMedia, reason: str) -> bool:
    """PROCESSING → HELD: processed like a READY reel (so RESTORE can publish it as it is), but
    an automated check wants a moderator's look first. Its own sound is created uncounted."""
    return await _finish(work, reel, media, ReelStatus.HELD, reason=reason)


async def hold_for_review(work: UnitOfWork, reel_id: int, reason: str) -> bool:
    """READY → HELD: reported by enough users, it leaves feeds and search (and stops counting)
    until a moderator restores or blocks it. False when it was not READY."""
    return await _move(work, reel_id, {ReelStatus.READY}, ReelStatus.HELD, reason=reason)


async def block_by_check(work: UnitOfWork, reel: Reel, media: ReadyMedia, reason: str) -> bool:
    """PROCESSING → BLOCKED by an automated check, with its media kept so a moderator who finds
    the check wrong can RESTORE it."""
    return await _finish(work, reel, media, ReelStatus.BLOCKED, reason=reason)


async def _finish(
    work: UnitOfWork, reel: Reel, media: ReadyMedia, target: ReelStatus, *, reason: str | None = None
) -> bool:
    """PROCESSING → `target` with the media processing produced and the reel's own sound."""
    facts = {
        "duration_ms": media.duration_ms,
        "width": media.width,
        "height": media.height,
        "fps": media.fps,
        "media": dict(media.manifest),
    }
    if not await _move(work, reel.id, {ReelStatus.PROCESSING}, target, reason=reason, values=facts):
        return False
    if reel.audio_id is None and media.has_own_sound:
        creator = await work.session.get(User, reel.creator_id)
        chosen = await work.session.scalar(select(Upload.audio_title).where(Upload.reel_id == reel.id))
        sound = Audio(
            title=chosen or sounds.default_title(creator.username if creator else "unknown"),
            creator_id=reel.creator_id,
            original_reel_id=reel.id,
            duration_ms=media.duration_ms,
            use_count=int(target == COUNTED),  # this reel, once it counts
            storage_key=keys.original_audio_key(reel.id),
        )
        work.session.add(sound)
        await work.session.flush()
        await work.session.execute(
            update(Reel)
            .where(Reel.id == reel.id)
            .values(audio_id=sound.id)
            .execution_options(synchronize_session=False)
        )
    return True


async def _announced(work: UnitOfWork, reel_id: int) -> bool:
    """Whether the reel was READY before: its creator was told so."""
    told = await work.session.scalar(
        select(Notification.id)
        .where(Notification.reel_id == reel_id, Notification.kind == NotificationKind.REEL_READY)
        .limit(1)
    )
    return told is not None


async def _announce_ready(work: UnitOfWork, reel: Reel, *, replicate: bool) -> None:
    """A reel newly READY: its creator told, its followers' fan-out and its replication queued."""
    await notifications.add(work, reel.creator_id, NotificationKind.REEL_READY, reel_id=reel.id)
    _queue_ready_jobs(work, reel.id, replicate=replicate)


def _queue_ready_jobs(work: UnitOfWork, reel_id: int, *, replicate: bool) -> None:
    work.send(FanOutReel(reel_id))
    if replicate:
        work.send(ReplicateReel(reel_id, ready_at=time.time()), lane="bulk")


async def requeue_ready_jobs(work: UnitOfWork, reel_id: int, *, replicate: bool) -> bool:
    """A media job delivered again for a reel already READY: the run that made it READY may have
    died before its follow-up jobs were queued (its job was not acknowledged, hence this
    delivery), so they are queued again. False when the reel is not READY."""
    status = await work.session.scalar(select(Reel.status).where(Reel.id == reel_id, Reel.deleted_at.is_(None)))
    if status != ReelStatus.READY:
        return False
    _queue_ready_jobs(work, reel_id, replicate=replicate)
    return True


async def fail(work: UnitOfWork, reel_id: int, reason: str) -> bool:
    """UPLOADED or PROCESSING → FAILED with a reason a person can read; the creator is told."""
    if not await _move(work, reel_id, IN_PROGRESS, ReelStatus.FAILED, reason=reason):
        return False
    creator_id = (await _current(work, reel_id)).creator_id
    await notifications.add(work, creator_id, NotificationKind.REEL_FAILED, reel_id=reel_id)
    return True


async def abandon(work: UnitOfWork, reel_id: int, reason: str) -> bool:
    """INIT → FAILED: the upload was never completed."""
    return await _move(work, reel_id, {ReelStatus.INIT}, ReelStatus.FAILED, reason=reason)


async def retry_failed(work: UnitOfWork, reel_id: int) -> bool:
    """FAILED → UPLOADED, for a dead-lettered media job queued again by hand."""
    return await _move(work, reel_id, {ReelStatus.FAILED}, ReelStatus.UPLOADED)


async def block(work: UnitOfWork, reel: Reel, reason: str) -> Reel:
    """Any live state but BLOCKED → BLOCKED (a moderator's decision). A reel blocked while
    READY stops counting towards its hashtags and sound."""
    if not await _move(work, reel.id, BLOCKABLE, ReelStatus.BLOCKED, reason=reason):
        raise invalid("this reel is already blocked", "action")
    return await _current(work, reel.id)


async def restore(work: UnitOfWork, reel: Reel, *, replicate: bool) -> Reel:
    """BLOCKED (once processed) or HELD → READY; it counts again. A reel a check held or blocked
    was never READY, so it is announced as a new READY reel is (creator told, fan-out queued);
    one that was READY before (blocked by a moderator, held after reports) was announced then."""
    if reel.status not in RESTORABLE:
        raise invalid("only a blocked or held reel can be restored", "action")
    if not (reel.media or {}).get("hls"):
        raise invalid("this reel was never processed; it cannot be restored", "action")
    if not await _move(work, reel.id, {reel.status}, ReelStatus.READY):
        raise invalid("only a blocked or held reel can be restored", "action")
    if not await _announced(work, reel.id):
        await _announce_ready(work, reel, replicate=replicate)
    return await _current(work, reel.id)


async def delete(work: UnitOfWork, reel_id: int) -> bool:
    """Any state → deleted: gone from every read path at once; its media leave every store by a
    job. A READY reel stops counting. False when it was deleted already."""
    now = datetime.now(UTC)
    for counted in (True, False):
        status_rule = Reel.status == COUNTED if counted else Reel.status != COUNTED
        moved = await work.session.scalar(
            update(Reel)
            .where(Reel.id == reel_id, Reel.deleted_at.is_(None), status_rule)
            .values(deleted_at=now)
            .returning(Reel.id)
            .execution_options(synchronize_session=False)
        )
        if moved is not None:
            if counted:
                await _recount(work, reel_id, -1)
            reel = await _current(work, reel_id)
            # Live reelStatus subscribers read the reel again, find it gone and end.
            work.publish(ReelStatusChanged(reel_id, reel.status, deleted=True))
            work.send(ReelDeleted(reel_id), lane="bulk")
            return True
    return False
