"""Seeding a running platform with a demo plan, through the paths a real client's actions take.

Accounts are registered, follows made and reels uploaded with the domain's own commands
(createUpload, the bytes PUT to the presigned part URLs, completeUpload); the platform's media
workers transcode them while the next clips are made. Then the simulated history is stored as
engagement rows and events (the aggregator counts them) and the ranker is trained on it.

Every step looks first at what is there, so a second run reuses the data (and an interrupted
one carries on where it stopped).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from reels.demo.clips import make_clip
from reels.demo.plan import PASSWORD, DemoClip, DemoPlan
from reels.domain import accounts, history, social, training, uploads
from reels.domain.keys import RANKER_CURRENT_KEY
from reels.domain.models import Audio, Reel, ReelStatus, User, Visibility, WatchEvent
from reels.http.media_routes import media_routes
from reels.platform import Platform
from reels.ranking import RankerConfig, train_ranker
from reels.upload_client import put_parts

log = logging.getLogger(__name__)

SETTLED = (ReelStatus.READY, ReelStatus.FAILED, ReelStatus.BLOCKED, ReelStatus.HELD)
POLL_S = 0.5

# What the seeding is doing, how many reels are settled, of how many: the progress bar's view.
Report = Callable[[str, int, int], None]


@dataclass
class Seeded:
    users_created: int = 0
    reels_uploaded: int = 0
    history_stored: bool = False
    ranker_version: str | None = None
    ready: int = 0
    not_ready: int = 0  # FAILED, BLOCKED or HELD

    @property
    def created_anything(self) -> bool:
        return bool(self.users_created or self.reels_uploaded or self.history_stored or self.ranker_version)


async def seed(platform: Platform, plan: DemoPlan, report: Report | None = None) -> Seeded:
    """Seed `plan` into the platform and wait until every reel is settled; the platform's
    workers must be running (they transcode the reels)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per part PUT says nothing here
    done = Seeded()
    show = report or (lambda what, settled, total: None)
    total = len(plan.clips)
    show("accounts", 0, total)
    users = await _users(platform, plan, done)
    show("follows", 0, total)
    await _follows(platform, plan, users)
    reel_ids = await _existing_reels(platform, plan, users)
    await _upload_clips(platform, plan, users, reel_ids, done, show)
    if not await _history_stored(platform, reel_ids.values()):
        show("history", 0, total)
        await store_history(platform, plan, users, reel_ids)
        done.history_stored = True
    statuses = await _wait_settled(platform, reel_ids.values(), lambda n: show("transcoding", n, total))
    done.ready = statuses[ReelStatus.READY]
    done.not_ready = sum(statuses.values()) - done.ready
    show("training the ranker", total, total)
    done.ranker_version = await train_demo_ranker(platform)
    show("done", total, total)
    return done


async def _users(platform: Platform, plan: DemoPlan, done: Seeded) -> dict[str, User]:
    async with platform.sessions() as session:
        names = [user.username for user in plan.users]
        found = {user.username: user for user in await session.scalars(select(User).where(User.username.in_(names)))}

    async def create(username: str) -> User:
        wanted = next(user for user in plan.users if user.username == username)
        user = await accounts.register(platform.sessions, username, PASSWORD, wanted.display_name, role=wanted.role)
        return await accounts.update_profile(platform.sessions, user, display_name=None, bio=None, region=wanted.region)

    missing = [name for name in names if name not in found]
    # Together: password hashing runs in a pool of its own, one thread per core.
    for user in await asyncio.gather(*(create(name) for name in missing)):
        found[user.username] = user
    done.users_created = len(missing)
    return found


async def _follows(platform: Platform, plan: DemoPlan, users: dict[str, User]) -> None:
    """Idempotent: following again changes nothing and notifies no one."""
    for follower, followed in plan.follows:
        await social.follow(
            platform.graph,
            platform.sessions,
            platform.kv,
            platform.queue,
            platform.pubsub,
            users[follower],
            users[followed].id,
            inbox_size=platform.settings.inbox_size,
        )


async def _existing_reels(platform: Platform, plan: DemoPlan, users: dict[str, User]) -> dict[int, int]:
    """Clip number → reel id of the planned reels uploaded by an earlier run (a reel left INIT
    by an interrupted upload is not one: its clip is uploaded again)."""
    by_id = {user.id: name for name, user in users.items()}
    async with platform.sessions() as session:
        rows = await session.execute(
            select(Reel.id, Reel.creator_id, Reel.caption).where(
                Reel.creator_id.in_(list(by_id)), Reel.status != ReelStatus.INIT, Reel.deleted_at.is_(None)
            )
        )
        uploaded = {(by_id[creator_id], caption): reel_id for reel_id, creator_id, caption in rows}
    return {
        clip.number: uploaded[(clip.creator, clip.caption)]
        for clip in plan.clips
        if (clip.creator, clip.caption) in uploaded
    }


async def _upload_clips(
    platform: Platform,
    plan: DemoPlan,
    users: dict[str, User],
    reel_ids: dict[int, int],
    done: Seeded,
    show: Report,
) -> None:
    """Make each clip (shortest first) while the worker transcodes the ones before it."""
    todo = [clip for clip in plan.clips if clip.number not in reel_ids]
    if not todo:
        return
    total = len(plan.clips)
    # Uploaded reels not yet settled before the next clip is uploaded: each worker slot busy and
    # one reel queued; making clips further ahead would only take CPU from transcoding.
    ahead = platform.settings.worker_concurrency + 1
    # Presigned part URLs point at this app's upload route (local disk) or at S3: on local disk
    # the PUTs go straight to the app's media routes, in process.
    media_app = Starlette(routes=media_routes(lambda request: platform.store))
    transport = httpx.ASGITransport(app=media_app) if platform.settings.s3_endpoint_url is None else None
    with tempfile.TemporaryDirectory(prefix="reels-demo-") as scratch:
        async with httpx.AsyncClient(transport=transport) as client:
            for made, clip in enumerate(todo, start=total - len(todo) + 1):
                show(f"making clip {made}/{total}", await _settled_count(platform, reel_ids.values()), total)
                path = Path(scratch) / f"{clip.number}.mp4"
                await make_clip(clip, path)
                while (settled := await _settled_count(platform, reel_ids.values())) <= len(reel_ids) - ahead:
                    show(f"clip {made}/{total} made, waiting for the worker", settled, total)
                    await asyncio.sleep(POLL_S)
                audio_id = await _sound(platform, reel_ids.get(clip.sound_of) if clip.sound_of is not None else None)
                reel_ids[clip.number] = await _upload(platform, client, users[clip.creator], clip, path, audio_id)
                done.reels_uploaded += 1
                path.unlink()


async def _upload(
    platform: Platform, client: httpx.AsyncClient, creator: User, clip: DemoClip, path: Path, audio_id: int | None
) -> int:
    started = await uploads.create_upload(
        platform.sessions,
        platform.store,
        platform.settings,
        creator,
        caption=clip.caption,
        visibility=Visibility.PUBLIC,
        file_size=path.stat().st_size,
        content_type="video/mp4",
        audio_id=audio_id,
        audio_title=None,
    )
    etags = await put_parts(client, path, started.part_size, started.parts)
    await uploads.complete_upload(
        platform.sessions, platform.store, platform.queue, platform.pubsub, creator, started.upload_id, etags
    )
    return started.reel.id


async def _sound(platform: Platform, donor_reel_id: int | None) -> int | None:
    """The sound of the donor reel, once it is READY (it was uploaded well before); None when
    it did not become READY, and the clip keeps its own sound."""
    if donor_reel_id is None:
        return None
    await _wait_settled(platform, [donor_reel_id], lambda settled: None)
    async with platform.sessions() as session:
        return await session.scalar(select(Audio.id).where(Audio.original_reel_id == donor_reel_id))


async def _settled_count(platform: Platform, reel_ids: Iterable[int]) -> int:
    return sum((await _statuses(platform, reel_ids)).values())


async def _statuses(platform: Platform, reel_ids: Iterable[int]) -> Counter[ReelStatus]:
    """How many of the reels are in each settled status."""
    ids = list(reel_ids)
    if not ids:
        return Counter()
    async with platform.sessions() as session:
        rows = await session.execute(
            select(Reel.status, func.count()).where(Reel.id.in_(ids), Reel.status.in_(SETTLED)).group_by(Reel.status)
        )
        return Counter({status: count for status, count in rows})


async def _wait_settled(
    platform: Platform, reel_ids: Iterable[int], on_change: Callable[[int], None]
) -> Counter[ReelStatus]:
    """Until every reel is READY, FAILED, BLOCKED or HELD; a reel stuck in a dead worker is
    re-queued by the maintenance job, and a transcode is bounded by its timeout."""
    ids = list(reel_ids)
    while True:
        statuses = await _statuses(platform, ids)
        on_change(sum(statuses.values()))
        if sum(statuses.values()) >= len(ids):
            return statuses
        await asyncio.sleep(POLL_S)


async def _history_stored(platform: Platform, reel_ids: Iterable[int]) -> bool:
    async with platform.sessions() as session:
        return (
            await session.scalar(select(WatchEvent.id).where(WatchEvent.reel_id.in_(list(reel_ids))).limit(1))
        ) is not None


async def store_history(platform: Platform, plan: DemoPlan, users: dict[str, User], reel_ids: dict[int, int]) -> None:
    """The simulated history as engagement rows and events, dated over the past days."""
    now = datetime.now(UTC)
    watches, likes, comments = [], [], []
    for watch in plan.history:
        if watch.clip not in reel_ids:
            continue
        reel_id, viewer_id = reel_ids[watch.clip], users[watch.viewer].id
        at = now - timedelta(seconds=watch.ago_s)
        context = {"feed": watch.source, "position": watch.position}
        watches.append(history.PastWatch(reel_id, viewer_id, watch.watched_ms, watch.completed, context, at))
        after = at + timedelta(milliseconds=watch.watched_ms)
        if watch.liked:
            likes.append(history.PastLike(reel_id, viewer_id, after))
        if watch.comment is not None:
            comments.append(history.PastComment(reel_id, viewer_id, watch.comment, after))
    await history.import_engagement(
        platform.sessions, platform.queue, platform.pubsub, watches=watches, likes=likes, comments=comments
    )
    log.info("stored a history of %d watches, %d likes and %d comments", len(watches), len(likes), len(comments))


async def train_demo_ranker(platform: Platform) -> str | None:
    """The demo's training step, `reels train`'s own: the ranker learns from the watch events
    stored so far (the history, counted by the aggregator while the reels transcoded) and is
    published (both artifacts of the version, then the pointer serving reads). A ranker already
    published is kept: None then, and when nothing was stored to learn from."""
    if await platform.store.list_keys(RANKER_CURRENT_KEY):
        return None
    table = await training.stored_table(platform.sessions, platform.graph)
    if len(table) == 0:
        return None
    trained = await asyncio.to_thread(train_ranker, table, RankerConfig())
    version = await training.publish(platform.store, trained)
    log.info("trained ranker %s on %d stored watch events", version, len(table))
    return version
