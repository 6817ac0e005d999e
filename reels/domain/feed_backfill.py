"""Rebuilding the feature store and the trending sets from the stored history (`reels features
rebuild`): for a deployment whose history predates them, or whose Redis lost them.

The watch events (every recordView, counted or not: what the aggregator folds live) and the likes
are read oldest first in keyed pages, merged by time, and folded in batches through the
aggregator's own `feed_features.fold`, each batch with `now` at its last event, so decayed
popularity and trending come out as if the events had arrived live. The likes table holds current
likes only (an unlike deletes the row): each is folded as one like at the time it was made, so a
like taken back is in no counter (live, it added to the reel's decayed popularity, which the
unlike does not take back). How often each reel was served comes from the stored impressions.

Folding into a store that has counters would count them twice: `rebuild` refuses unless told to
replace, which first deletes the feature hashes of every reel and user and the trending sets,
keeping the "not interested" counts (only the key-value store holds those). The history read ends
when the rebuild starts; what happens after is the aggregators' to fold.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVarTuple

from sqlalchemy import Row, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from reels.domain import feed_features, feed_feedback, feed_signals, feed_trending
from reels.domain.feed_features import Like, Watch
from reels.domain.models import FeedImpression, Reel, User, WatchEvent
from reels.domain.models import Like as LikeRow
from reels.ports.kv import KeyValue
from reels.ranking.features import POPULARITY_HALF_LIVES_S
from reels.settings import Settings

PAGE_ROWS = 5_000  # rows a statement reads
BATCH_EVENTS = 5_000  # events a fold takes at most
# A batch is folded as of its last event: one spanning at most this share of the shortest
# half-life is decayed within 0.2% of the live values.
BATCH_SPAN_OF_HALF_LIFE = 1 / 400

REPLAYING = "replaying watch events and likes"
# (what is being done, how far, out of how many or None)
OnProgress = Callable[[str, int, int | None], None]


class StoreNotEmptyError(Exception):
    """The feature store has counters: folding the history into it would count them twice."""


@dataclass(frozen=True)
class Rebuilt:
    watches: int
    likes: int
    served_reels: int  # reels with a served count


class _PastWatch(NamedTuple):
    at: float
    reel_id: int
    viewer_id: int | None
    watched_ms: int
    completed: bool


class _PastLike(NamedTuple):
    at: float
    reel_id: int
    user_id: int


_Past = _PastWatch | _PastLike
Columns = TypeVarTuple("Columns")


async def _has_features(kv: KeyValue) -> bool:
    """Whether anything was folded: every fold of a watch or like adds to the overall hash, and
    every reel with enough interactions enters the global trending set."""
    (overall,) = await kv.hgetall_many([feed_features.GLOBAL_KEY])
    return bool(overall) or bool(await kv.zrange_desc(feed_trending.key(None), 0, 0))


async def rebuild(
    sessions: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    settings: Settings,
    *,
    replace: bool = False,
    on_progress: OnProgress | None = None,
) -> Rebuilt:
    """Fold the stored history into the feature store and the trending sets. Raises
    StoreNotEmptyError when the store has counters and `replace` is not given."""
    until = datetime.now(UTC)
    report = on_progress or (lambda _step, _done, _total: None)
    if replace:
        await _clear(sessions, kv, report)
    elif await _has_features(kv):
        raise StoreNotEmptyError(
            "the feature store is not empty: folding the stored history into it would count events twice"
        )
    total = await _history_size(sessions, until)
    report(REPLAYING, 0, total)
    span_s = BATCH_SPAN_OF_HALF_LIFE * min(settings.trending_half_life_s, *POPULARITY_HALF_LIVES_S.values())
    watches = likes = 0
    batch: list[_Past] = []
    async for event in _merged(_watches(sessions, until), _likes(sessions, until)):
        if batch and (len(batch) == BATCH_EVENTS or event.at - batch[0].at > span_s):
            await _fold(sessions, kv, settings, batch)
            report(REPLAYING, watches + likes, total)
            batch = []
        batch.append(event)
        if isinstance(event, _PastWatch):
            watches += 1
        else:
            likes += 1
    if batch:
        await _fold(sessions, kv, settings, batch)
    report(REPLAYING, watches + likes, total)
    served = await _fold_served(sessions, kv, until, report)
    return Rebuilt(watches=watches, likes=likes, served_reels=served)


async def _fold(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, settings: Settings, batch: Sequence[_Past]
) -> None:
    facts, regions = await feed_signals.reel_facts(sessions, sorted({event.reel_id for event in batch}))
    watches: list[Watch] = []
    likes: list[Like] = []
    for event in batch:
        reel = facts.get(event.reel_id)
        if reel is None:  # deleted since the page was read
            continue
        if isinstance(event, _PastWatch):
            watches.append(Watch(reel, event.viewer_id, event.watched_ms, event.completed))
        else:
            likes.append(Like(reel, event.user_id, 1))
    await feed_features.fold(
        kv,
        watches,
        likes,
        regions,
        now=batch[-1].at,
        half_life_s=settings.trending_half_life_s,
        min_interactions=settings.trending_min_interactions,
    )


async def _fold_served(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, until: datetime, report: OnProgress
) -> int:
    """Each reel's served count from the impressions (a plain counter: no order needed)."""
    query = (
        select(FeedImpression.reel_id, func.count())
        .where(FeedImpression.created_at <= until)
        .group_by(FeedImpression.reel_id)
    )
    reels = 0
    async for rows in _pages(sessions, query, (FeedImpression.reel_id,)):
        await kv.hincr_many({feed_features.reel_key(reel_id): {"shown": count} for reel_id, count in rows})
        reels += len(rows)
        report("counting served reels", reels, None)
    return reels


async def _clear(sessions: async_sessionmaker[AsyncSession], kv: KeyValue, report: OnProgress) -> None:
    """Delete the feature hashes of every user (as viewer and as creator) and reel, the overall
    hash and every region's trending set, keeping the "not interested" counts."""
    regions: set[str] = set()
    cleared = 0
    async for users in _pages(sessions, select(User.id, User.region), (User.id,)):
        regions.update(region for _, region in users if region)
        keys = [feed_features.user_key(user_id) for user_id, _ in users]
        await _delete_keeping_marks(kv, keys + [feed_features.creator_key(user_id) for user_id, _ in users])
        cleared += len(users)
        report("clearing the feature store", cleared, None)
    async for reels in _pages(sessions, select(Reel.id), (Reel.id,)):
        await _delete_keeping_marks(kv, [feed_features.reel_key(reel_id) for (reel_id,) in reels])
        cleared += len(reels)
        report("clearing the feature store", cleared, None)
    trending = [feed_trending.key(None)] + [feed_trending.key(region) for region in sorted(regions)]
    await kv.delete(feed_features.GLOBAL_KEY, *trending)


async def _delete_keeping_marks(kv: KeyValue, keys: list[str]) -> None:
    hashes = await kv.hgetall_many(keys)
    kept = {
        key: marks
        for key, hash_ in zip(keys, hashes, strict=True)
        if (marks := {name: value for name, value in hash_.items() if feed_feedback.is_mark_count(name)})
    }
    await kv.delete(*keys)
    await kv.hincr_many(kept)


async def _history_size(sessions: async_sessionmaker[AsyncSession], until: datetime) -> int:
    async with sessions() as session:
        watches = await session.scalar(select(func.count()).where(WatchEvent.created_at <= until))
        likes = await session.scalar(select(func.count()).where(LikeRow.created_at <= until))
    return (watches or 0) + (likes or 0)


async def _pages(
    sessions: async_sessionmaker[AsyncSession],
    query: Select[*Columns],
    key: tuple[InstrumentedAttribute[Any], ...],
    page_rows: int = PAGE_ROWS,
) -> AsyncIterator[Sequence[Row[*Columns]]]:
    """The rows of `query` in `key` order, a page per statement, each page after the last one's
    key: no cursor or transaction held open while the pages are folded. `key` must be unique and
    its columns the query's first ones."""
    after: tuple[Any, ...] | None = None
    while True:
        page = query.order_by(*key).limit(page_rows)
        if after is not None:
            page = page.where(tuple_(*key) > tuple_(*after))
        async with sessions() as session:
            rows = (await session.execute(page)).all()
        if not rows:
            return
        yield rows
        after = tuple(rows[-1][: len(key)])


def _seconds(moment: datetime) -> float:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


async def _watches(sessions: async_sessionmaker[AsyncSession], until: datetime) -> AsyncIterator[_PastWatch]:
    query = select(
        WatchEvent.created_at,
        WatchEvent.id,
        WatchEvent.reel_id,
        WatchEvent.viewer_id,
        WatchEvent.watched_ms,
        WatchEvent.completed,
    ).where(WatchEvent.created_at <= until)
    async for rows in _pages(sessions, query, (WatchEvent.created_at, WatchEvent.id)):
        for at, _, reel_id, viewer_id, watched_ms, completed in rows:
            yield _PastWatch(_seconds(at), reel_id, viewer_id, watched_ms, completed)


async def _likes(sessions: async_sessionmaker[AsyncSession], until: datetime) -> AsyncIterator[_PastLike]:
    query = select(LikeRow.created_at, LikeRow.reel_id, LikeRow.user_id).where(LikeRow.created_at <= until)
    async for rows in _pages(sessions, query, (LikeRow.created_at, LikeRow.reel_id, LikeRow.user_id)):
        for at, reel_id, user_id in rows:
            yield _PastLike(_seconds(at), reel_id, user_id)


async def _merged(watches: AsyncIterator[_PastWatch], likes: AsyncIterator[_PastLike]) -> AsyncIterator[_Past]:
    """The two time-ordered streams as one, oldest first."""
    watch = await anext(watches, None)
    like = await anext(likes, None)
    while True:
        if watch is not None and (like is None or watch.at <= like.at):
            yield watch
            watch = await anext(watches, None)
        elif like is not None:
            yield like
            like = await anext(likes, None)
        else:
            return
