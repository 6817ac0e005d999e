"""What the aggregator's flushes tell the feed: watches and likes folded into the feature store
and the trending sets (`feed_features.fold`), each viewer's watched log (`feed_sessions`), and
how often each reel was served.
Best effort, after the counts are committed: the watch events themselves are stored for training
whatever happens here."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain import feed_features, feed_sessions
from reels.domain.events import EngagementEvent, FeedServed, Liked, Unliked, Viewed
from reels.domain.feed_features import Like, ReelFacts, Watch
from reels.domain.models import Hashtag, Reel, ReelHashtag, User
from reels.ports.kv import KeyValue
from reels.settings import Settings


async def reel_facts(
    sessions: async_sessionmaker[AsyncSession], reel_ids: Sequence[int]
) -> tuple[dict[int, ReelFacts], dict[int, str | None]]:
    """Each reel's creator, category (first hashtag by name) and duration, and its region (its creator's)."""
    async with sessions() as session:
        reels = (
            await session.execute(
                select(Reel.id, Reel.creator_id, Reel.duration_ms, User.region)
                .join(User, User.id == Reel.creator_id)
                .where(Reel.id.in_(reel_ids))
            )
        ).all()
        tags = (
            await session.execute(
                select(ReelHashtag.reel_id, Hashtag.name)
                .join(Hashtag, Hashtag.id == ReelHashtag.hashtag_id)
                .where(ReelHashtag.reel_id.in_(reel_ids))
                .order_by(Hashtag.name)
            )
        ).all()
    first_tag: dict[int, str] = {}
    for reel_id, name in tags:
        first_tag.setdefault(reel_id, name)
    facts = {
        reel_id: ReelFacts(reel_id, creator_id, first_tag.get(reel_id), duration_ms)
        for reel_id, creator_id, duration_ms, _ in reels
    }
    return facts, {reel_id: region for reel_id, _, _, region in reels}


async def fold(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, settings: Settings, signals: Sequence[EngagementEvent]
) -> None:
    shown: Counter[int] = Counter()  # how often each reel was served: fresh reels need exposure
    wanted: list[Viewed | Liked | Unliked] = []
    for event in signals:  # one pass: a flush holds tens of thousands
        if isinstance(event, (Viewed, Liked, Unliked)):
            wanted.append(event)
        elif isinstance(event, FeedServed):
            shown.update(reel_id for reel_id, *_ in event.items)
    await kv.hincr_many({feed_features.reel_key(reel_id): {"shown": times} for reel_id, times in shown.items()})
    if not wanted:
        return
    facts, regions = await reel_facts(sessions, sorted({e.reel_id for e in wanted}))
    watches: list[Watch] = []
    likes: list[Like] = []
    watched: dict[str, list[int]] = defaultdict(list)
    viewer_key = feed_sessions.viewer_key
    for event in wanted:
        reel = facts.get(event.reel_id)
        if reel is None:  # deleted since
            continue
        if isinstance(event, Viewed):
            watches.append(Watch(reel, event.viewer_id, event.watched_ms, event.completed))
            owner = viewer_key(event.viewer_id, event.session_id)
            if owner is not None:
                watched[owner].append(event.reel_id)
        else:
            likes.append(Like(reel, event.user_id, 1 if isinstance(event, Liked) else -1))
    now = time.time()
    await feed_features.fold(
        kv,
        watches,
        likes,
        regions,
        now=now,
        half_life_s=settings.trending_half_life_s,
        min_interactions=settings.trending_min_interactions,
    )
    await feed_sessions.mark_watched(kv, watched, now)
