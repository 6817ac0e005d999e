"""The For You feed's candidates, from four sources, filtered.

- **FOLLOWING**: the viewer's inbox (`feed_inbox`), celebrities merged in.
- **SIMILAR**: the reels nearest the viewer's embedding and nearest the mean of the reels they
  watched lately (exact search, a matrix product over the loaded embeddings artifact), when a
  trained model with embeddings is published.
- **TRENDING**: the viewer's region's trending set, then the global one (`feed_trending`).
- **FRESH**: the newest public reels; those shown fewer than FEW_IMPRESSIONS times are
  exploration, mixed in at REELS_FEED_FRESH_RATE.

A reel found by several sources keeps the first of that order. Filters: the visibility rule
(`listed_to`: READY, not deleted, the creator not suspended, followers-only reels to followers),
blocks either way and mutes (the follow graph), reels the viewer marked "not interested", and
what the caller excludes (a session's earlier lists). What was served stays in: the caller puts
it after what was not.

A fixed number of statements per list whatever its size: one for the newest reels, one for the
other sources' rows, one for their hashtags, one for their open reports (a negative signal); the
follow graph is asked once per question.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain import feed_features, feed_inbox, feed_trending
from reels.domain.feed_model import FeedRanker, Loaded
from reels.domain.feed_sessions import Source
from reels.domain.models import Hashtag, Reel, ReelHashtag, ReelStatus, Report, ReportStatus, User, Visibility
from reels.domain.visibility import listed_to
from reels.ports.graph import FollowGraph
from reels.ports.kv import KeyValue
from reels.ports.queue import WorkQueue
from reels.settings import Settings

PER_SOURCE = 300
RECENT_TASTE = 20  # the watched reels whose mean vector finds similar ones
FEW_IMPRESSIONS = 50


@dataclass(frozen=True)
class FeedPorts:
    """What the feed reads and writes, and the settings it runs under. Candidate and page reads go
    to `reads` (a read replica that keeps up, else the primary); writes go to `sessions`, the
    primary."""

    sessions: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession]
    graph: FollowGraph
    kv: KeyValue
    queue: WorkQueue
    ranker: FeedRanker
    settings: Settings

    @property
    def inbox_settings(self) -> feed_inbox.InboxSettings:
        return feed_inbox.InboxSettings.of(self.settings)


@dataclass
class Pool:
    """Candidates in one order, with per-candidate source, exploration flag and trending score."""

    candidates: list[feed_features.Candidate] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    explore: list[bool] = field(default_factory=list)
    trending: list[float] = field(default_factory=list)
    reel_hashes: list[dict[str, float]] = field(default_factory=list)
    hashtags: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def hashtags_of(self, reel_id: int) -> tuple[str, ...]:
        return self.hashtags.get(reel_id, ())


async def gather(
    ports: FeedPorts,
    viewer: User | None,
    region: str | None,
    loaded: Loaded,
    *,
    exclude: set[int],
    hidden: set[int],
    recent: list[int],
) -> Pool:
    """Every source's candidates for a new list, less `exclude` and the `hidden` (not interested);
    `recent` are the reels the viewer watched lately, newest first."""
    settings = ports.inbox_settings
    followees: list[int] = []
    found: dict[int, Source] = {}
    if viewer is not None:
        followees = await ports.graph.followees(viewer.id)
        celebrities = await feed_inbox.celebrities_among(ports.graph, followees, settings)
        inbox = await feed_inbox.read(ports.kv, ports.reads, viewer, followees, celebrities, settings)
        for reel_id, _ in inbox[:PER_SOURCE]:
            found.setdefault(reel_id, Source.FOLLOWING)
        # Nearest the viewer's own vector, and nearest what they watched lately (which also serves
        # viewers who came after the model was trained).
        for vector in (loaded.user_vector(viewer.id), loaded.taste_of(recent[:RECENT_TASTE])):
            if vector is not None and loaded.embeddings is not None:
                for row in loaded.embeddings.nearest_items(vector, PER_SOURCE // 2):
                    item = loaded.embeddings.item_ids[row]
                    if item.isdigit():
                        found.setdefault(int(item), Source.SIMILAR)
    trending = dict(await feed_trending.top(ports.kv, region, ports.settings.trending_half_life_s, limit=PER_SOURCE))
    for reel_id in trending:
        found.setdefault(reel_id, Source.TRENDING)
    newest = await _newest_public(ports, viewer)
    for row in newest:
        found.setdefault(row.id, Source.FRESH)
    wanted = [reel_id for reel_id in found if reel_id not in exclude and reel_id not in hidden]
    rows = {row.id: row for row in newest}
    rows |= await _rows(ports, viewer, followees, [reel_id for reel_id in wanted if reel_id not in rows])
    kept = [rows[reel_id] for reel_id in wanted if reel_id in rows]
    if viewer is not None and kept:
        hidden_creators = await ports.graph.muted_ids(viewer.id)
        hidden_creators |= await ports.graph.blocked_either_way(viewer.id, list({row.creator_id for row in kept}))
        kept = [row for row in kept if row.creator_id not in hidden_creators]
    hashtags = await _hashtags(ports, [row.id for row in kept])
    reports = await _open_reports(ports, [row.id for row in kept])
    reel_hashes = [
        {**stored, "reports": float(reports.get(row.id, 0))}
        for row, stored in zip(
            kept, await ports.kv.hgetall_many([feed_features.reel_key(r.id) for r in kept]), strict=True
        )
    ]
    following = set(followees)
    pool = Pool(hashtags=hashtags)
    for row, reel_hash in zip(kept, reel_hashes, strict=True):
        tags = hashtags.get(row.id, ())
        pool.candidates.append(
            feed_features.Candidate(
                reel_id=row.id,
                creator_id=row.creator_id,
                category=tags[0] if tags else None,
                hashtags=tags,
                duration_ms=row.duration_ms,
                created_at=row.created_at.timestamp(),
                follows_creator=row.creator_id in following,
            )
        )
        source = found[row.id]
        pool.sources.append(source)
        pool.explore.append(source == Source.FRESH and reel_hash.get("shown", 0.0) < FEW_IMPRESSIONS)
        pool.trending.append(trending.get(row.id, 0.0))
        pool.reel_hashes.append(reel_hash)
    return pool


async def _newest_public(ports: FeedPorts, viewer: User | None) -> list[Reel]:
    query = (
        select(Reel)
        .where(
            Reel.visibility == Visibility.PUBLIC,
            Reel.status == ReelStatus.READY,
            listed_to(viewer, follows_creator=False),
        )
        .order_by(Reel.id.desc())
        .limit(PER_SOURCE)
    )
    async with ports.reads() as session:
        return list((await session.scalars(query)).all())


async def _rows(ports: FeedPorts, viewer: User | None, followees: list[int], reel_ids: list[int]) -> dict[int, Reel]:
    if not reel_ids:
        return {}
    follows = Reel.creator_id.in_(followees) if followees else False
    query = select(Reel).where(
        Reel.id.in_(reel_ids), Reel.status == ReelStatus.READY, listed_to(viewer, follows_creator=follows)
    )
    async with ports.reads() as session:
        return {row.id: row for row in (await session.scalars(query)).all()}


async def _hashtags(ports: FeedPorts, reel_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Each reel's hashtag names, in name order (the first is the reel's category)."""
    if not reel_ids:
        return {}
    query = (
        select(ReelHashtag.reel_id, Hashtag.name)
        .join(Hashtag, Hashtag.id == ReelHashtag.hashtag_id)
        .where(ReelHashtag.reel_id.in_(reel_ids))
        .order_by(Hashtag.name)
    )
    names: dict[int, list[str]] = defaultdict(list)
    async with ports.reads() as session:
        for reel_id, name in (await session.execute(query)).all():
            names[reel_id].append(name)
    return {reel_id: tuple(tags) for reel_id, tags in names.items()}


async def _open_reports(ports: FeedPorts, reel_ids: list[int]) -> dict[int, int]:
    """Distinct users with an open report of each reel: a negative signal (the score's penalty)."""
    if not reel_ids:
        return {}
    query = (
        select(Report.reel_id, func.count(Report.reporter_id.distinct()))
        .where(Report.reel_id.in_(reel_ids), Report.status == ReportStatus.OPEN)
        .group_by(Report.reel_id)
    )
    async with ports.reads() as session:
        return {reel_id: count for reel_id, count in (await session.execute(query)).all()}


async def stored_features(kv: KeyValue, viewer_id: int, pool: Pool) -> feed_features.Stored:
    """The viewer's, the creators' and the overall feature hashes (the reels' came with the pool)."""
    creators = sorted({c.creator_id for c in pool.candidates})
    keys = [feed_features.user_key(viewer_id), feed_features.GLOBAL_KEY]
    hashes = await kv.hgetall_many(keys + [feed_features.creator_key(c) for c in creators])
    return feed_features.Stored(
        user=hashes[0], overall=hashes[1], reels=pool.reel_hashes, creators=dict(zip(creators, hashes[2:], strict=True))
    )
