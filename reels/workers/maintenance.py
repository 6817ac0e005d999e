"""Periodic housekeeping, run by one worker at a time (a lock in the shared cache):

- uploads never completed within REELS_UPLOAD_TTL_S are aborted (their parts deleted) and the
  reel marked FAILED, so nothing leaks;
- reels left UPLOADED or PROCESSING long after their last change have lost their job (the API
  died between commit and enqueue): they are queued again. A redo of a job that was merely slow
  is harmless (jobs are idempotent). The in-process queue of the embedded setup loses every job
  with its process, so there all of them are queued again as the workers start;
- revocations of tokens that have expired since are deleted.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from reels.domain import accounts, events, lifecycle
from reels.domain.events import ReelUploaded
from reels.domain.models import Reel, ReelStatus
from reels.domain.unit_of_work import unit_of_work
from reels.domain.uploads import abandoned_uploads
from reels.platform import Platform

log = logging.getLogger(__name__)
LOCK_KEY = "lock:maintenance"
ABANDONED_REASON = "the upload was not completed in time; upload the video again"


async def run_once(platform: Platform) -> None:
    settings = platform.settings
    if not await platform.kv.set(
        LOCK_KEY, "1", ttl_s=max(5.0, settings.maintenance_interval_s * 0.9), only_if_absent=True
    ):
        return
    await abort_abandoned_uploads(platform)
    await requeue_stuck_reels(platform)
    await accounts.prune_revocations(platform.sessions)


async def abort_abandoned_uploads(platform: Platform, *, older_than_s: float | None = None) -> int:
    """Abort uploads started more than `older_than_s` (default REELS_UPLOAD_TTL_S) ago and never
    completed; returns how many."""
    ttl_s = platform.settings.upload_ttl_s if older_than_s is None else older_than_s
    async with unit_of_work(platform.sessions, platform.queue, platform.pubsub) as work:
        uploads = await abandoned_uploads(work.session, ttl_s)
        for upload in uploads:
            await platform.store.abort_multipart_upload(upload.object_key, upload.upload_id)
            await lifecycle.abandon(work, upload.reel_id, ABANDONED_REASON)
            await work.session.delete(upload)
    if uploads:
        log.info("aborted %d abandoned uploads", len(uploads))
    return len(uploads)


async def requeue_stuck_reels(platform: Platform, *, older_than_s: float | None = None) -> int:
    """Queue again the reels UPLOADED or PROCESSING for longer than `older_than_s` (default
    REELS_STUCK_UPLOAD_REQUEUE_S); returns how many."""
    wait_s = platform.settings.stuck_upload_requeue_s if older_than_s is None else older_than_s
    cutoff = datetime.now(UTC) - timedelta(seconds=wait_s)
    async with platform.sessions() as session:
        stuck = (
            await session.scalars(
                select(Reel.id).where(
                    Reel.status.in_([ReelStatus.UPLOADED, ReelStatus.PROCESSING]),
                    Reel.deleted_at.is_(None),
                    Reel.updated_at < cutoff,
                )
            )
        ).all()
        # Touched so the same reel is queued again only after another full wait.
        await session.execute(update(Reel).where(Reel.id.in_(stuck)).values(updated_at=datetime.now(UTC)))
        await session.commit()
    for reel_id in stuck:
        await events.send(platform.queue, ReelUploaded(reel_id), lane="bulk")
    if stuck:
        log.info("queued %d stuck reels again", len(stuck))
    return len(stuck)
