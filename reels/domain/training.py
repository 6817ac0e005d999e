"""Training the feed ranker from the platform's own stored events, and publishing what it learned.

The ranking leaf (`reels.ranking`) knows nothing of the database; this module reads for it:
watch events streamed in chunks through a server-side cursor (never the whole table in memory),
each with its watch ratio (watched time / the reel's duration, at least 1 when the client said
it completed) and whether the viewer likes the reel, then the reels a For You page served that the
viewer never watched, as watches of 0 s (negatives); reels as items (creator, duration, and as
category the first hashtag of the caption: `reel_category`, which serving uses too); who follows
whom from the follow graph. `publish` puts a trained version's three artifacts in the object store
under `keys.ranker_artifact_key`, then moves `keys.RANKER_CURRENT_KEY` to it, so a server never
reads a version whose artifacts are not all there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain import keys
from reels.domain.models import FeedImpression, Like, Reel, WatchEvent
from reels.domain.uploads import hashtags_in
from reels.ports.graph import FollowGraph
from reels.ports.objectstore import ObjectStore
from reels.ranking import EventTable, Item, TableBuilder, TrainedRanker, build_index, parquet
from reels.ranking import WatchEvent as LoggedWatch

CHUNK_ROWS = 20_000
# Followees read from the graph at once while collecting follows (one graph call per viewer).
FOLLOW_READS_AT_ONCE = 16

Progress = Callable[[str], None]


def reel_category(caption: str) -> str | None:
    """A reel's category for the ranker: the first hashtag of its caption, if any."""
    tags = hashtags_in(caption)
    return tags[0] if tags else None


def viewer_key(viewer_id: int | None, session_id: str | None) -> str | None:
    """A signed-in viewer by user id; an anonymous one by session id (never mistaken for a user)."""
    if viewer_id is not None:
        return str(viewer_id)
    return f"session:{session_id}" if session_id else None


def _seconds(moment: datetime) -> float:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


async def stored_items(
    sessions: async_sessionmaker[AsyncSession], chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[Item]]:
    """Every processed reel (it has a duration) as a ranking item, in chunks."""
    query = (
        select(Reel.id, Reel.creator_id, Reel.duration_ms, Reel.caption)
        .where(Reel.duration_ms.is_not(None))
        .execution_options(yield_per=chunk_rows)
    )
    async with sessions() as session:
        result = await session.stream(query)
        async for rows in result.partitions():
            yield [
                Item(str(reel_id), reel_category(caption), str(creator_id), duration_ms)
                for reel_id, creator_id, duration_ms, caption in rows
            ]


async def stored_events(
    sessions: async_sessionmaker[AsyncSession], chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[LoggedWatch]]:
    """Every stored watch event of a processed reel by a known viewer, in chunks (any order)."""
    liked = Like.user_id.is_not(None)
    query = (
        select(
            WatchEvent.viewer_id,
            WatchEvent.session_id,
            WatchEvent.reel_id,
            WatchEvent.created_at,
            WatchEvent.watched_ms,
            WatchEvent.completed,
            Reel.duration_ms,
            liked,
        )
        .join(Reel, Reel.id == WatchEvent.reel_id)
        .outerjoin(Like, and_(Like.reel_id == WatchEvent.reel_id, Like.user_id == WatchEvent.viewer_id))
        .where(Reel.duration_ms > 0)
        .execution_options(yield_per=chunk_rows)
    )
    async with sessions() as session:
        result = await session.stream(query)
        async for rows in result.partitions():
            events = []
            for viewer_id, session_id, reel_id, at, watched_ms, completed, duration_ms, is_liked in rows:
                viewer = viewer_key(viewer_id, session_id)
                if viewer is None or not duration_ms:
                    continue
                ratio = watched_ms / duration_ms
                events.append(
                    LoggedWatch(
                        user_id=viewer,
                        item_id=str(reel_id),
                        timestamp=_seconds(at),
                        watch_ratio=max(ratio, 1.0) if completed else ratio,
                        duration_ms=duration_ms,
                        liked=bool(is_liked),
                    )
                )
            yield events


async def stored_unwatched_impressions(
    sessions: async_sessionmaker[AsyncSession], chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[LoggedWatch]]:
    """Reels a For You page served that the viewer never watched, as watches of 0 s at the first
    time served (once per viewer and reel), in chunks: a served reel scrolled past unwatched is a
    negative for every head, as a skip is (the simulator logs every impression as a watch event)."""
    watched = (
        select(WatchEvent.id)
        .where(
            WatchEvent.reel_id == FeedImpression.reel_id,
            or_(
                and_(FeedImpression.viewer_id.is_not(None), WatchEvent.viewer_id == FeedImpression.viewer_id),
                and_(FeedImpression.viewer_id.is_(None), WatchEvent.session_id == FeedImpression.session_id),
            ),
        )
        .exists()
    )
    query = (
        select(
            FeedImpression.viewer_id,
            FeedImpression.session_id,
            FeedImpression.reel_id,
            func.min(FeedImpression.created_at),
            Reel.duration_ms,
        )
        .join(Reel, Reel.id == FeedImpression.reel_id)
        .where(Reel.duration_ms > 0, ~watched)
        .group_by(FeedImpression.viewer_id, FeedImpression.session_id, FeedImpression.reel_id, Reel.duration_ms)
        .execution_options(yield_per=chunk_rows)
    )
    async with sessions() as session:
        result = await session.stream(query)
        async for rows in result.partitions():
            yield [
                LoggedWatch(
                    user_id=viewer,
                    item_id=str(reel_id),
                    timestamp=_seconds(at),
                    watch_ratio=0.0,
                    duration_ms=duration_ms,
                )
                for viewer_id, session_id, reel_id, at, duration_ms in rows
                if (viewer := viewer_key(viewer_id, session_id)) is not None
            ]


async def stored_log(
    sessions: async_sessionmaker[AsyncSession], chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[LoggedWatch]]:
    """The log training learns from: every stored watch event, then every unwatched impression."""
    async for events in stored_events(sessions, chunk_rows):
        yield events
    async for events in stored_unwatched_impressions(sessions, chunk_rows):
        yield events


async def _follows(graph: FollowGraph, viewers: list[str]) -> list[tuple[str, str]]:
    """(viewer, creator) pairs for the signed-in viewers in the log."""
    users = [int(viewer) for viewer in viewers if viewer.isdigit()]
    pairs: list[tuple[str, str]] = []
    for start in range(0, len(users), FOLLOW_READS_AT_ONCE):
        batch = users[start : start + FOLLOW_READS_AT_ONCE]
        followees = await asyncio.gather(*(graph.followees(user) for user in batch))
        pairs.extend(
            (str(user), str(creator)) for user, creators in zip(batch, followees, strict=True) for creator in creators
        )
    return pairs


async def stored_table(
    sessions: async_sessionmaker[AsyncSession],
    graph: FollowGraph,
    on_step: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> EventTable:
    """The platform's watch log as the ranker's time-ordered table, read chunk by chunk."""
    items: list[Item] = []
    async for chunk in stored_items(sessions, chunk_rows):
        items.extend(chunk)
    builder = TableBuilder(items)
    read = 0
    async for events in stored_log(sessions, chunk_rows):
        builder.add(events)
        read += len(events)
        if on_step:
            on_step(f"read {read} watch events and unwatched impressions")
    if on_step:
        on_step("reading follows")
    follows = await _follows(graph, builder.users.ids)
    return builder.finish(follows)


async def export_events(
    sessions: async_sessionmaker[AsyncSession],
    graph: FollowGraph,
    folder: Path,
    on_step: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Write the stored log as Parquet partitions (`reels.ranking.parquet`), one per chunk read."""
    folder.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    async for chunk in stored_items(sessions, chunk_rows):
        items.extend(chunk)
    parquet.write_items(folder, items)
    viewers: dict[str, None] = {}
    written = 0
    async for number, events in aenumerate(stored_log(sessions, chunk_rows)):
        parquet.write_partition(folder, number, events)
        viewers.update((event.user_id, None) for event in events)
        written += len(events)
        if on_step:
            on_step(f"exported {written} watch events")
    parquet.write_follows(folder, await _follows(graph, list(viewers)))
    return written


async def aenumerate(chunks: AsyncIterator[list[LoggedWatch]]) -> AsyncIterator[tuple[int, list[LoggedWatch]]]:
    number = 0
    async for chunk in chunks:
        yield number, chunk
        number += 1


async def publish(store: ObjectStore, trained: TrainedRanker) -> str:
    """Store the trained version's artifacts (the model, the embeddings and the nearest-reels index
    built from them), then point the servers at it; the version."""
    version = trained.model.version
    index = await asyncio.to_thread(build_index, trained.embeddings)
    artifacts = [
        (keys.RANKER_ARTIFACT, trained.model.to_bytes(), "application/zip"),
        (keys.EMBEDDINGS_ARTIFACT, trained.embeddings.to_bytes(), "application/octet-stream"),
        (keys.INDEX_ARTIFACT, index.to_bytes(), "application/octet-stream"),
    ]
    for name, data, content_type in artifacts:
        await store.put_bytes(keys.ranker_artifact_key(version, name), data, content_type)
    await store.put_bytes(keys.RANKER_CURRENT_KEY, version.encode(), "text/plain")
    return version
