"""The home screens' reel lists: the For You feed, trending, and the following feed.

**For You** (`for_you`): a page without `after` starts a session: candidates (`feed_candidates`)
→ features (`feed_features`) → scores (the published model or the heuristic, `feed_model`, in a
thread pool under a time budget) → re-ranking (`reels.ranking.rerank`: creator discount, no more
than two of one hashtag in a row, shorter reels on a SLOW network or LOW device) → a list of
REELS_FEED_LIST_SIZE cached under the session (`feed_sessions`). Pages after it read the list;
within ten reels of its end the next list is queued for a worker to build (`build_ahead`,
reels.workers.feed), so an API process ranks only when a viewer asks for a list none was built
ahead for (a new viewer, or one whose list ran out before a worker got to it). Reels already served to the
viewer come last (served-but-unwatched first), so a new session shows new reels and the feed never
runs dry while READY reels exist. If ranking fails or runs over its budget, the list is the
candidates in trending order: a page is never an error because of the ranker.

Anonymous viewers get regional trending interleaved with fresh reels, per session id.

**Trending** (`trending`): the aggregator's per-region sorted sets (`feed_trending`), then the
newest public reels, so it is never empty while public READY reels exist.

**Following** (`following`): the viewer's inbox (`feed_inbox`), newest first.

Every read applies the visibility rule (`listed_to` in SQL, then blocks and mutes from the follow
graph) at the moment of the page, so a block or mute takes effect at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import ColumnElement, Select, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.db import EntityRead, InIds, engine_of
from reels.domain import events, feed_candidates, feed_features, feed_feedback, feed_inbox, feed_sessions, feed_trending
from reels.domain.counts import SERVED_COLUMNS, served
from reels.domain.engagement import liked_by_bound_viewer
from reels.domain.events import BuildFeedAhead, FeedServed
from reels.domain.feed_candidates import FeedPorts, Pool
from reels.domain.feed_model import Loaded
from reels.domain.feed_sessions import Entry, Source
from reels.domain.models import Reel, ReelCounts, ReelStatus, User, Visibility
from reels.domain.visibility import is_listed, listed_to, listed_to_bound_viewer
from reels.metrics import FEED_BUILD_SECONDS, FEED_FALLBACKS
from reels.ports.graph import FollowGraph
from reels.ranking import rerank_positions, topics_of
from reels.settings import Settings

log = logging.getLogger(__name__)

# A hashtag the viewer marked "not interested" weighs a reel's score by this.
HASHTAG_DEMOTION = 0.5
EXTEND_WITHIN = 10
# A page's read takes a few reels of the list more than it shows, so that one read still fills it
# when some have been hidden since the list was built (deleted, blocked, a creator muted); a page
# short even so reads on. Reading ten more made a page read 30 reels to show 20.
SPARE_READS = 2
# A viewer's next list is queued for a worker at most once in this long (unless it is put sooner).
BUILD_CLAIM_S = 30.0
TRENDING_DEPTH = 1000


@dataclass(frozen=True, slots=True)
class FeedContext:
    network: str | None = None
    device: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class FeedItem:
    reel: Reel
    # Read with the reel, so that the page's creators, the viewer's likes of its reels and their
    # counts need no other round trip.
    creator: User
    viewer_liked: bool
    counts: dict[str, int]
    source: Source
    score: float
    cursor: int


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    has_next: bool


# --- For You ------------------------------------------------------------------------------------


async def for_you(
    ports: FeedPorts,
    viewer: User | None,
    session_id: str | None,
    context: FeedContext,
    *,
    first: int,
    after: int | None,
) -> FeedPage:
    owner = feed_sessions.viewer_key(viewer.id if viewer is not None else None, session_id)
    region = _region(viewer, context)
    if viewer is not None and viewer.region is None and context.region:
        await _default_region(ports.sessions, viewer, context.region)
    stored: list[Entry] | None = None
    if after is None:
        session, position = feed_sessions.new_session(), 0
        entries = await _start(ports, viewer, owner, region, context)
    else:
        session, last = feed_sessions.split_cursor(after)
        position = last + 1
        stored = await feed_sessions.load(ports.kv, owner, session, ports.settings.feed_session_ttl_s)
        if stored is None:  # expired or never ours: go on with a new list in the same session
            entries, position = await _build(ports, viewer, owner, region, context, exclude=set()), 0
        else:
            entries = stored
    if stored is None:  # a cached list is saved again only when it grows (below)
        await feed_sessions.save(ports.kv, owner, session, entries, ports.settings.feed_session_ttl_s)
    items: list[FeedItem] = []
    extended = False
    while len(items) < first:
        window = entries[position : position + first - len(items) + SPARE_READS]
        if not window:
            if extended:
                break
            more = await _next_list(ports, viewer, owner, region, context, entries)
            extended = True
            if not more:
                break
            entries = entries + more
            await feed_sessions.save(ports.kv, owner, session, entries, ports.settings.feed_session_ttl_s)
            continue
        shown = await _showable(
            ports, viewer, [entry.reel_id for entry in window], creators={entry.creator_id for entry in window}
        )
        for entry in window:
            if len(items) == first:
                break
            found = shown.get(entry.reel_id)
            if found is not None:
                cursor = feed_sessions.cursor_value(session, position)
                items.append(
                    FeedItem(
                        found.reel, found.creator, found.viewer_liked, found.counts, entry.source, entry.score, cursor
                    )
                )
            position += 1
    if items:
        await _served(ports, viewer, session_id, owner, session, items)
    if owner is not None and len(entries) - position <= EXTEND_WITHIN:
        _build_ahead(ports, viewer, owner, context, entries)
    return FeedPage(items, has_next=position < len(entries) or len(items) == first)


async def _served(
    ports: FeedPorts,
    viewer: User | None,
    session_id: str | None,
    owner: str | None,
    session: int,
    items: list[FeedItem],
) -> None:
    """Log the page for the viewer's next sessions, and queue its impressions for training."""
    page = [
        (item.reel.id, feed_sessions.split_cursor(item.cursor)[1], item.source.value, round(item.score, 6))
        for item in items
    ]
    served = FeedServed(
        reel_id=items[0].reel.id,
        viewer_id=viewer.id if viewer is not None else None,
        session_id=session_id if viewer is None else None,
        feed_session=session,
        items=page,
        at=datetime.now(UTC).isoformat(),
    )
    queued = events.send(ports.queue, served)
    if owner is None:
        await queued
        return
    await asyncio.gather(
        feed_sessions.mark_served(ports.kv, owner, [item.reel.id for item in items], time.time()), queued
    )


def _region(viewer: User | None, context: FeedContext) -> str | None:
    return (viewer.region if viewer is not None else None) or context.region


async def _default_region(sessions: async_sessionmaker[AsyncSession], viewer: User, region: str) -> None:
    """A viewer without a region takes the first one a feed request names."""
    async with sessions() as session:
        await session.execute(update(User).where(User.id == viewer.id, User.region.is_(None)).values(region=region))
        await session.commit()


async def _start(
    ports: FeedPorts, viewer: User | None, owner: str | None, region: str | None, context: FeedContext
) -> list[Entry]:
    """A new session's list: the one built ahead if there is one, else a new one."""
    if owner is not None:
        ahead = await feed_sessions.take_ahead(ports.kv, owner)
        if ahead:
            served, _ = await feed_sessions.served_and_watched(ports.kv, owner)
            fresh = [entry for entry in ahead if entry.reel_id not in served]
            if len(fresh) >= len(ahead) // 2:
                return fresh
    return await _build(ports, viewer, owner, region, context, exclude=set())


async def _next_list(
    ports: FeedPorts,
    viewer: User | None,
    owner: str | None,
    region: str | None,
    context: FeedContext,
    entries: Sequence[Entry],
) -> list[Entry]:
    """The list after `entries`: the one built ahead, else built now; nothing already in them."""
    inside = {entry.reel_id for entry in entries}
    if owner is not None:
        ahead = await feed_sessions.take_ahead(ports.kv, owner)
        if ahead:
            fresh = [entry for entry in ahead if entry.reel_id not in inside]
            if fresh:
                return fresh
    return await _build(ports, viewer, owner, region, context, exclude=inside)


def _build_ahead(
    ports: FeedPorts,
    viewer: User | None,
    owner: str,
    context: FeedContext,
    entries: Sequence[Entry],
) -> None:
    """Queue the viewer's next list for a worker to build (`build_ahead`), after the page is sent."""

    async def queue() -> None:
        # One list is built or waits ahead at a time: a client re-reading pages near the end
        # queues no more.
        if not await feed_sessions.claim_next_list(ports.kv, owner, ttl_s=BUILD_CLAIM_S):
            return
        job = BuildFeedAhead(
            owner=owner,
            viewer_id=viewer.id if viewer is not None else None,
            network=context.network,
            device=context.device,
            region=context.region,
            exclude=[entry.reel_id for entry in entries],
        )
        try:
            await events.send(ports.queue, job)
        except Exception:
            await feed_sessions.drop_claim(ports.kv, owner)
            log.exception("queueing the next feed list failed; it will be built when asked for")

    ports.ranker.in_background(queue(), name="feed-ahead")


async def build_ahead(ports: FeedPorts, job: BuildFeedAhead) -> None:
    """A worker's part of `_build_ahead`: rank the list and put it where the viewer's next list
    is taken from (`_start`, `_next_list`), with the claim that queued it. A failure is the
    queue's to retry."""
    try:
        if await feed_sessions.has_ahead(ports.kv, job.owner):
            return  # a job delivered again after its list was put: the claim stays with the list
        viewer = None
        if job.viewer_id is not None:
            async with ports.reads() as session:
                viewer = await session.get(User, job.viewer_id)
            if viewer is None:
                await feed_sessions.drop_claim(ports.kv, job.owner)
                return  # the account is gone
        context = FeedContext(network=job.network, device=job.device, region=job.region)
        region = _region(viewer, context)
        ahead = await _build(ports, viewer, job.owner, region, context, exclude=set(job.exclude))
        await feed_sessions.put_ahead(ports.kv, job.owner, ahead, ports.settings.feed_session_ttl_s)
    except BaseException:
        await feed_sessions.drop_claim(ports.kv, job.owner)
        raise


async def _build(
    ports: FeedPorts,
    viewer: User | None,
    owner: str | None,
    region: str | None,
    context: FeedContext,
    *,
    exclude: set[int],
) -> list[Entry]:
    started = time.perf_counter()
    settings = ports.settings
    loaded, demoted, (served, recent) = await asyncio.gather(
        ports.ranker.current(),
        feed_feedback.demotions(ports.kv, viewer.id if viewer else None, settings.not_interested_days),
        feed_sessions.served_and_watched(ports.kv, owner),
    )
    watched = set(recent)
    pool = await feed_candidates.gather(
        ports, viewer, region, loaded, exclude=exclude, hidden=demoted.reels, recent=recent
    )
    if viewer is None:
        entries = _anonymous_order(pool, served, watched, settings)
    else:
        similarity = loaded.similarity(viewer.id, [c.reel_id for c in pool.candidates])
        now = time.time()

        def rank() -> list[Entry]:
            return _ranked(pool, loaded, demoted, similarity, served, watched, context, settings, now)

        try:
            entries = await ports.ranker.run(rank, budget_s=settings.feed_score_budget_ms / 1000)
        except Exception as error:
            reason = "timeout" if isinstance(error, TimeoutError) else "error"
            if reason == "error":
                log.exception("ranking the feed failed; serving it in trending order")
            FEED_FALLBACKS.labels(reason=reason).inc()
            entries = _trending_order(pool, served, watched, settings.feed_list_size)
    FEED_BUILD_SECONDS.observe(time.perf_counter() - started)
    return entries


def _tiers(reel_ids: Sequence[int], served: set[int], watched: set[int]) -> list[int]:
    """0: neither served nor watched; 1: served, not watched; 2: watched."""
    return [2 if r in watched else 1 if r in served else 0 for r in reel_ids]


def _ranked(
    pool: Pool,
    loaded: Loaded,
    demoted: feed_feedback.Demotions,
    similarity: list[float] | None,
    served: set[int],
    watched: set[int],
    context: FeedContext,
    settings: Settings,
    now: float,
) -> list[Entry]:
    """Score, demote, re-rank tier by tier, interleave exploration: runs in the scoring pool."""
    candidates = pool.candidates
    if not candidates:
        return []
    rows = feed_features.rows(
        pool.features,
        candidates,
        now=now,
        not_interested={creator: float(n) for creator, n in demoted.creators.items()},
        similarity=similarity,
        trending_half_life_s=settings.trending_half_life_s,
    )
    scores = np.asarray(loaded.scorer.score(rows), np.float64)
    for index, candidate in enumerate(candidates):
        if demoted.hashtags.intersection(candidate.hashtags):
            scores[index] = scores[index] * HASHTAG_DEMOTION if scores[index] >= 0 else scores[index] / HASHTAG_DEMOTION
    tiers = _tiers([c.reel_id for c in candidates], served, watched)
    size = settings.feed_list_size
    entries: list[Entry] = []
    for tier in (0, 1, 2):
        members = [i for i, t in enumerate(tiers) if t == tier]
        explore = [i for i in members if pool.explore[i]]
        main = [i for i in members if not pool.explore[i]]
        ordered = _interleave(
            _reranked(pool, main, scores, context, size), _reranked(pool, explore, scores, context, size), settings
        )
        entries += _break_runs(
            [
                Entry(candidates[i].reel_id, pool.sources[i], float(scores[i]), candidates[i].creator_id)
                for i in ordered
            ],
            pool,
        )
        if len(entries) >= size:
            break
    return entries[:size]


def _reranked(pool: Pool, members: list[int], scores: np.ndarray, context: FeedContext, size: int) -> list[int]:
    candidates = pool.candidates
    picked = rerank_positions(
        [float(scores[i]) if math.isfinite(scores[i]) else -1e9 for i in members],
        [candidates[i].creator_id for i in members],
        [candidates[i].duration_ms for i in members],
        lambda position: topics_of(candidates[members[position]].hashtags),
        size,
        network=context.network,
        device=context.device,
    )
    return [members[position] for position in picked]


def _interleave(main: list[int], explore: list[int], settings: Settings) -> list[int]:
    """Exploration takes about REELS_FEED_FRESH_RATE of the slots; either fills in for the other."""
    rate = settings.feed_fresh_rate
    out: list[int] = []
    taken_explore = 0
    main_at = explore_at = 0
    while main_at < len(main) or explore_at < len(explore):
        want_explore = taken_explore + 1 <= rate * (len(out) + 1)  # every 1/rate-th slot
        if (want_explore and explore_at < len(explore)) or main_at >= len(main):
            out.append(explore[explore_at])
            explore_at += 1
            taken_explore += 1
        else:
            out.append(main[main_at])
            main_at += 1
    return out


def _break_runs(entries: list[Entry], pool: Pool, max_run: int = 2) -> list[Entry]:
    """Where interleaving two re-ranked lists left more than `max_run` reels of one hashtag in a
    row, pull the next reel that breaks the run forward (within one tier: unseen reels stay first)."""
    tags = pool.hashtags_of
    out = list(entries)
    for i in range(max_run, len(out)):
        shared = set.intersection(*(set(tags(out[j].reel_id)) for j in range(i - max_run, i)))
        if not shared or not shared.intersection(tags(out[i].reel_id)):
            continue
        swap = next((j for j in range(i + 1, len(out)) if not shared.intersection(tags(out[j].reel_id))), None)
        if swap is not None:
            out.insert(i, out.pop(swap))
    return out


def _trending_order(pool: Pool, served: set[int], watched: set[int], size: int) -> list[Entry]:
    """The fallback when ranking fails: trending first, then the newest; unseen before seen."""
    tiers = _tiers([c.reel_id for c in pool.candidates], served, watched)
    order = sorted(
        range(len(pool.candidates)),
        key=lambda i: (tiers[i], -pool.trending[i], -pool.candidates[i].created_at),
    )
    return [
        Entry(pool.candidates[i].reel_id, pool.sources[i], pool.trending[i], pool.candidates[i].creator_id)
        for i in order[:size]
    ]


def _anonymous_order(pool: Pool, served: set[int], watched: set[int], settings: Settings) -> list[Entry]:
    """Regional trending interleaved with fresh reels; unseen (by this session id) first."""
    tiers = _tiers([c.reel_id for c in pool.candidates], served, watched)
    entries: list[Entry] = []
    for tier in (0, 1, 2):
        members = [i for i, t in enumerate(tiers) if t == tier]
        trending = sorted((i for i in members if pool.trending[i] > 0), key=lambda i: -pool.trending[i])
        fresh = sorted((i for i in members if pool.trending[i] <= 0), key=lambda i: -pool.candidates[i].created_at)
        ordered = _interleave(trending, fresh, settings)
        entries += _break_runs(
            [
                Entry(
                    pool.candidates[i].reel_id,
                    Source.TRENDING if pool.trending[i] > 0 else Source.FRESH,
                    pool.trending[i],
                    pool.candidates[i].creator_id,
                )
                for i in ordered
            ],
            pool,
        )
    return entries[: settings.feed_list_size]


class Showable(NamedTuple):
    """A reel the viewer may be shown, with what was read with it: its creator, whether the
    viewer likes it and its counts as the database holds them (see reels.domain.counts), what a
    page of it shows next, without another round trip."""

    reel: Reel
    creator: User
    viewer_liked: bool
    counts: dict[str, int]


def _with_creator_like_and_counts(liked: ColumnElement[bool]) -> Select[Reel, User, bool, int, int, int, int]:
    """Reels with their creators, `liked` and their counts (a key lookup each): rows for `_shown`."""
    return (
        select(Reel, User, liked, *SERVED_COLUMNS)
        .join(User, User.id == Reel.creator_id)
        .outerjoin(ReelCounts, ReelCounts.reel_id == Reel.id)
    )


def _shown(rows: Iterable[Sequence[Any]]) -> list[Showable]:
    return [Showable(reel, creator, liked, served(counts)) for reel, creator, liked, *counts in rows]


def _showable_query(
    listed: ColumnElement[bool], liked: ColumnElement[bool]
) -> Select[Reel, User, bool, int, int, int, int]:
    return _with_creator_like_and_counts(liked).where(
        InIds(Reel.id, "reel_ids"), Reel.status == ReelStatus.READY, listed
    )


# Every page read runs one of these, built once and run on the driver. Signed in, the reels are
# read as if the viewer followed every creator.
_SHOWABLE_ANONYMOUS = EntityRead(_showable_query(listed_to(None, follows_creator=False), false().label("viewer_liked")))
_SHOWABLE_SIGNED_IN = EntityRead(
    _showable_query(listed_to_bound_viewer(follows_creator=True), liked_by_bound_viewer(Reel.id))
)


async def _showable(
    ports: FeedPorts, viewer: User | None, reel_ids: list[int], *, creators: set[int] | None = None
) -> dict[int, Showable]:
    """The reels of `reel_ids` the viewer may be shown now (the visibility rule, blocks and mutes),
    each with its creator, whether the viewer likes it and its counts.

    One round trip when the reels' `creators` are known (a session list keeps them): the reels are
    read as if the viewer followed every creator while the follow graph is asked, at the same
    time, how the viewer stands to those creators; each row then passes `is_listed` with the
    real answers."""
    if not reel_ids:
        return {}
    query, params = (_SHOWABLE_ANONYMOUS, {}) if viewer is None else (_SHOWABLE_SIGNED_IN, {"viewer_id": viewer.id})

    async def read() -> list[Showable]:
        return _shown(await query.all(engine_of(ports.reads), {"reel_ids": reel_ids, **params}))

    if viewer is None:
        return {row.reel.id: row for row in await read()}
    if creators is None:  # known only once the rows are read
        rows = await read()
        relations = await ports.graph.relations(viewer.id, sorted({row.reel.creator_id for row in rows}))
    else:
        rows, relations = await asyncio.gather(read(), ports.graph.relations(viewer.id, sorted(creators)))
    return {
        row.reel.id: row
        for row in rows
        if row.reel.creator_id not in relations.muted
        and is_listed(
            row.reel,
            viewer,
            viewer_follows_creator=row.reel.creator_id in relations.follows,
            blocked_either_way=row.reel.creator_id in relations.blocked_either_way,
            creator_suspended=False,  # the SQL condition left out suspended creators' reels
        )
    }


# --- trending and following ---------------------------------------------------------------------


async def trending(
    ports: FeedPorts, viewer: User | None, region: str | None, *, first: int, offset: int
) -> tuple[list[Showable], bool]:
    """Reels by regional trending score (then global), then the newest public ones; `offset` pages
    (up to TRENDING_DEPTH reels deep)."""
    if offset >= TRENDING_DEPTH:
        return [], False
    ranked = await feed_trending.top(ports.kv, region, ports.settings.trending_half_life_s, limit=offset + first + 1)
    wanted = [reel_id for reel_id, _ in ranked]
    shown = await _showable(ports, viewer, wanted)
    listed = [shown[r] for r in wanted if r in shown]
    if len(listed) < offset + first + 1:
        newest = await latest_public(
            ports.reads, ports.graph, viewer, first=offset + first + 1 - len(listed) + len(wanted), after=None
        )
        ranked_ids = set(wanted)
        listed += [row for row in newest if row.reel.id not in ranked_ids][: offset + first + 1 - len(listed)]
    page = listed[offset : offset + first + 1]
    return page[:first], len(page) > first


async def following(ports: FeedPorts, viewer: User | None, *, first: int, after: int | None) -> list[Showable]:
    """Reels of the creators the viewer follows, newest first, from the inbox (then the database
    past the inbox's oldest reel); up to `first + 1`."""
    if viewer is None:
        return []
    followees = await ports.graph.followees(viewer.id)
    celebrities = await feed_inbox.celebrities_among(ports.kv, ports.graph, followees, ports.inbox_settings)
    inbox = await feed_inbox.read(ports.kv, ports.reads, viewer, followees, celebrities, ports.inbox_settings)
    ids = sorted((reel_id for reel_id, _ in inbox if after is None or reel_id < after), reverse=True)
    rows = (
        await _newest(ports.reads, ports.graph, viewer, Reel.id.in_(ids), first=first, after=None, follows_creator=True)
        if ids
        else []
    )
    if len(rows) <= first and len(inbox) >= ports.settings.inbox_size:
        oldest = min(reel_id for reel_id, _ in inbox)
        older = Reel.creator_id.in_(followees)
        rows += await _newest(
            ports.reads,
            ports.graph,
            viewer,
            older,
            first=first - len(rows),
            after=min(oldest, after) if after is not None else oldest,
            follows_creator=True,
        )
    return rows[: first + 1]


async def latest_public(
    sessions: async_sessionmaker[AsyncSession],
    graph: FollowGraph,
    viewer: User | None,
    *,
    first: int,
    after: int | None,
) -> list[Showable]:
    """Public reels of anyone the viewer has not muted, newest first."""
    public = Reel.visibility == Visibility.PUBLIC
    return await _newest(sessions, graph, viewer, public, first=first, after=after, follows_creator=False)


async def _newest(
    sessions: async_sessionmaker[AsyncSession],
    graph: FollowGraph,
    viewer: User | None,
    candidates: ColumnElement[bool],
    *,
    first: int,
    after: int | None,
    follows_creator: bool,
) -> list[Showable]:
    """Up to `first + 1` of the READY `candidates` listed to the viewer, newest first, each with
    its creator, whether the viewer likes it and its counts."""
    liked = false().label("viewer_liked") if viewer is None else liked_by_bound_viewer(Reel.id)
    query = (
        _with_creator_like_and_counts(liked)
        .where(candidates, Reel.status == ReelStatus.READY, listed_to(viewer, follows_creator=follows_creator))
        .order_by(Reel.id.desc())
        .limit(first + 1)
    )
    if after is not None:
        query = query.where(Reel.id < after)
    if viewer is not None and (muted := await graph.muted_ids(viewer.id)):
        query = query.where(Reel.creator_id.not_in(muted))
    params = {} if viewer is None else {"viewer_id": viewer.id}
    async with sessions() as session:
        return _shown((await session.execute(query, params)).all())
