"""The For You feed's candidates, from four sources, filtered.

- **FOLLOWING**: the viewer's inbox (`feed_inbox`), celebrities merged in.
- **SIMILAR**: the reels nearest the viewer's embedding and nearest the mean of the reels they
  watched lately, through the published version's index (`reels.ranking.index`: exact below
  ~100k reels, an inverted file above), when a trained model with embeddings is published.
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
follow graph is asked once per question. Lookups that do not need each other's answers are made
at the same time (three rounds in all), so a list costs three round trips of waiting, not a dozen.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.db import InIds
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
    reel_features: feed_features.ReelFeatures
    settings: Settings

    @property
    def inbox_settings(self) -> feed_inbox.InboxSettings:
        return feed_inbox.InboxSettings.of(self.settings)


@dataclass
class Pool:
    """Candidates in one order, with per-candidate source, exploration flag and trending score,
    and the feature hashes their scoring needs."""

    candidates: list[feed_features.Candidate] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    explore: list[bool] = field(default_factory=list)
    trending: list[float] = field(default_factory=list)
    hashtags: dict[int, tuple[str, ...]] = field(default_factory=dict)
    features: feed_features.Stored = field(default_factory=lambda: feed_features.Stored({}, {}, [], {}))

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
    `recent` are the reels the viewer watched lately, newest first.

    Three rounds of lookups made in parallel: the sources (and follows, mutes); the rows of the
    reels they found, with their hashtags, open reports and feature hashes; then blocks and the
    viewer's and creators' feature hashes."""
    half_life_s = ports.settings.trending_half_life_s
    (followees, inbox, muted), trending_list, newest = await asyncio.gather(
        _following(ports, viewer),
        feed_trending.top(ports.kv, region, half_life_s, limit=PER_SOURCE),
        _newest_public(ports, viewer),
    )
    trending = dict(trending_list)
    found: dict[int, Source] = {}
    for reel_id, _ in inbox[:PER_SOURCE]:
        found.setdefault(reel_id, Source.FOLLOWING)
    if viewer is not None:
        # Nearest the viewer's own vector, and nearest what they watched lately (which also serves
        # viewers who came after the model was trained).
        for vector in (loaded.user_vector(viewer.id), loaded.taste_of(recent[:RECENT_TASTE])):
            if vector is not None:
                for reel_id in loaded.nearest(vector, PER_SOURCE // 2):
                    found.setdefault(reel_id, Source.SIMILAR)
    for reel_id in trending:
        found.setdefault(reel_id, Source.TRENDING)
    for row in newest:
        found.setdefault(row.id, Source.FRESH)
    wanted = [reel_id for reel_id in found if reel_id not in exclude and reel_id not in hidden]
    rows = {row.id: row for row in newest}
    # What is read by reel id is read for every wanted reel beside their rows, not after them:
    # the few that turn out not listed cost less than a round of waiting.
    more_rows, hashtags, reports, wanted_hashes = await asyncio.gather(
        _rows(ports, viewer, followees, [reel_id for reel_id in wanted if reel_id not in rows]),
        _hashtags(ports, wanted),
        _open_reports(ports, wanted),
        ports.reel_features.read(wanted),
    )
    rows |= more_rows
    hashes_of = dict(zip(wanted, wanted_hashes, strict=True))
    listed = [rows[reel_id] for reel_id in wanted if reel_id in rows and rows[reel_id].creator_id not in muted]
    creators = sorted({row.creator_id for row in listed})
    blocked, (user_hash, overall_hash, creator_hashes) = await asyncio.gather(
        ports.graph.blocked_either_way(viewer.id, creators) if viewer is not None and creators else _nothing(),
        _viewer_hashes(ports.kv, viewer, creators),
    )
    following = set(followees)
    pool = Pool(hashtags=hashtags)
    scored_hashes: list[dict[str, float]] = []
    for row in listed:
        if row.creator_id in blocked:
            continue
        reel_hash = hashes_of[row.id]
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
                open_reports=reports.get(row.id, 0),
            )
        )
        source = found[row.id]
        pool.sources.append(source)
        pool.explore.append(source == Source.FRESH and reel_hash.get("shown", 0.0) < FEW_IMPRESSIONS)
        pool.trending.append(trending.get(row.id, 0.0))
        scored_hashes.append(reel_hash)
    pool.features = feed_features.Stored(user_hash, overall_hash, scored_hashes, creator_hashes)
    return pool


async def _following(ports: FeedPorts, viewer: User | None) -> tuple[list[int], list[tuple[int, float]], set[int]]:
    """The viewer's followees, their inbox (celebrities merged in) and the creators they muted."""
    if viewer is None:
        return [], [], set()
    followees, muted = await asyncio.gather(ports.graph.followees(viewer.id), ports.graph.muted_ids(viewer.id))
    settings = ports.inbox_settings
    celebrities = await feed_inbox.celebrities_among(ports.kv, ports.graph, followees, settings)
    inbox = await feed_inbox.read(ports.kv, ports.reads, viewer, followees, celebrities, settings)
    return followees, inbox, muted


async def _nothing() -> set[int]:
    return set()


async def _viewer_hashes(
    kv: KeyValue, viewer: User | None, creators: list[int]
) -> tuple[dict[str, float], dict[str, float], dict[int, dict[str, float]]]:
    """The viewer's, the overall and the creators' feature hashes (an anonymous list is not scored)."""
    if viewer is None:
        return {}, {}, {}
    keys = [feed_features.user_key(viewer.id), feed_features.GLOBAL_KEY]
    hashes = await kv.hgetall_many(keys + [feed_features.creator_key(creator) for creator in creators])
    return hashes[0], hashes[1], dict(zip(creators, hashes[2:], strict=True))


# What a candidate needs of its reel's row. Read as plain rows, not ORM objects: a new list reads
# ~1,000 reels, and an object each (every column, identity map, state) cost more than the query.
CANDIDATE_COLUMNS = (Reel.id, Reel.creator_id, Reel.duration_ms, Reel.created_at)
ReelRow = Row[int, int, int | None, datetime]


async def _newest_public(ports: FeedPorts, viewer: User | None) -> list[ReelRow]:
    query = (
        select(*CANDIDATE_COLUMNS)
        .where(
            Reel.visibility == Visibility.PUBLIC,
            Reel.status == ReelStatus.READY,
            listed_to(viewer, follows_creator=False),
        )
        .order_by(Reel.id.desc())
        .limit(PER_SOURCE)
    )
    async with ports.reads() as session:
        return list((await session.execute(query)).all())


async def _rows(ports: FeedPorts, viewer: User | None, followees: list[int], reel_ids: list[int]) -> dict[int, ReelRow]:
    if not reel_ids:
        return {}
    follows = Reel.creator_id.in_(followees) if followees else False
    query = select(*CANDIDATE_COLUMNS).where(
        InIds(Reel.id, "ids"), Reel.status == ReelStatus.READY, listed_to(viewer, follows_creator=follows)
    )
    async with ports.reads() as session:
        return {row.id: row for row in (await session.execute(query, {"ids": reel_ids})).all()}


async def _hashtags(ports: FeedPorts, reel_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Each reel's hashtag names, in name order (the first is the reel's category)."""
    if not reel_ids:
        return {}
    query = (
        select(ReelHashtag.reel_id, Hashtag.name)
        .join(Hashtag, Hashtag.id == ReelHashtag.hashtag_id)
        .where(InIds(ReelHashtag.reel_id, "ids"))
        .order_by(Hashtag.name)
    )
    names: dict[int, list[str]] = defaultdict(list)
    async with ports.reads() as session:
        for reel_id, name in (await session.execute(query, {"ids": reel_ids})).all():
            names[reel_id].append(name)
    return {reel_id: tuple(tags) for reel_id, tags in names.items()}


async def _open_reports(ports: FeedPorts, reel_ids: list[int]) -> dict[int, int]:
    """Distinct users with an open report of each reel: a negative signal (the score's penalty)."""
    if not reel_ids:
        return {}
    query = (
        select(Report.reel_id, func.count(Report.reporter_id.distinct()))
        .where(InIds(Report.reel_id, "ids"), Report.status == ReportStatus.OPEN)
        .group_by(Report.reel_id)
    )
    async with ports.reads() as session:
        return {reel_id: count for reel_id, count in (await session.execute(query, {"ids": reel_ids})).all()}
