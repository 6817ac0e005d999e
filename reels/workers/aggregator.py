"""The engagement aggregator: events in, one batched write per flush out.

Exactly-once effect on at-least-once delivery:
- Each partition of the `engagement` topic is owned by one aggregator at a time, through a lease
  in the shared cache (renewed atomically while alive). Taking a lease bumps the partition's
  epoch and first claims every message the previous owner left un-acknowledged, so a
  partition's events are applied in id order.
- A flush applies the new events of its partitions in one transaction that also advances each
  partition's high-water mark, but only if no newer owner (a higher epoch) has written it: a
  replayed event is at or below the mark and skipped; a stalled former owner cannot commit.
- Messages are acknowledged only after the commit. A crash before it leaves them pending for
  the next owner; a crash after it makes them replays.
Then the cache gets the new absolute counts and each changed reel's channel one event
(coalesced, however many events the flush held).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from reels import db
from reels.domain import events, feed_signals
from reels.domain.counts import SERVED_COLUMNS, cache_counts, served
from reels.domain.events import (
    Commented,
    EngagementEvent,
    FeedServed,
    Liked,
    ReelCountsChanged,
    Shared,
    Topic,
    Uncommented,
    UnknownMessage,
    Unliked,
    Viewed,
    decode_engagement_event,
)
from reels.domain.ids import new_id, new_ids
from reels.domain.models import AggregatorOffset, FeedImpression, Reel, ReelCounts, WatchEvent
from reels.metrics import AGGREGATOR_EVENTS, AGGREGATOR_FLUSH_SECONDS
from reels.platform import Platform
from reels.ports.queue import Message
from reels.workers.runner import consumer_name

log = logging.getLogger(__name__)

GROUP = "aggregator"
COUNT_FIELDS = ("likes", "views", "comments", "shares")
LIKES, VIEWS, COMMENTS, SHARES = range(len(COUNT_FIELDS))  # a reel's deltas, a list in this order
COUNT_COLUMNS = ("reel_id", *COUNT_FIELDS)  # a counts upsert row's
NEVER_MS = 24 * 3600 * 1000  # an owner never claims its own pending messages by idleness


def _position(message_id: str) -> tuple[int, int]:
    millis, seq = message_id.split("-")
    return int(millis), int(seq)


def _message_position(message: Message) -> tuple[int, int]:
    return _position(message.id)


def _in_id_order(messages: list[Message]) -> list[Message]:
    """One stream's messages of a batch, in id order. First deliveries (new entries a read took,
    `attempts` 1) come in that order already, as the buffer keeps them: the group hands each
    stream's new entries out in id order, and a batch or its kept part goes back in front of
    what was read after it. Redeliveries (a takeover's claims) may be older: then they are sorted."""
    if all(message.attempts == 1 for message in messages):
        return messages
    return sorted(messages, key=_message_position)


class Aggregator:
    def __init__(
        self, platform: Platform, *, name: str | None = None, lease_ttl_s: float = 10.0, batch_size: int = 20_000
    ) -> None:
        self.platform = platform
        self.name = name or consumer_name(GROUP)
        self.lease_ttl_s = lease_ttl_s
        self.batch_size = batch_size
        self.flush_interval_s = platform.settings.flush_interval_ms / 1000
        self.partitions = platform.queue.partitions(Topic.ENGAGEMENT)
        self.owned: dict[int, int] = {}  # partition -> lease epoch
        self.buffer: list[Message] = []

    # --- leases ----------------------------------------------------------------------------

    def _lease_key(self, partition: int) -> str:
        return f"lease:{GROUP}:{partition}"

    async def maintain_leases(self) -> list[int]:
        """Renew the leases held, release surplus ones, take free ones up to a fair share.
        Returns partitions newly taken (whose leftovers must be claimed first)."""
        kv = self.platform.kv
        now = time.time()
        await kv.zadd(f"members:{GROUP}", {self.name: now + self.lease_ttl_s})
        alive = [m for m, expiry in await kv.zrange_desc(f"members:{GROUP}", 0, -1) if expiry > now]
        fair_share = math.ceil(self.partitions / max(1, len(alive)))
        for partition in list(self.owned):
            if not await kv.expire_if_equal(self._lease_key(partition), self.name, self.lease_ttl_s):
                log.warning("%s lost the lease of partition %d", self.name, partition)
                self._drop(partition)
        taken = []
        for partition in range(self.partitions):
            if len(self.owned) >= fair_share:
                break
            if partition not in self.owned and await kv.set(
                self._lease_key(partition), self.name, ttl_s=self.lease_ttl_s, only_if_absent=True
            ):
                self.owned[partition] = await kv.incr(f"epoch:{GROUP}:{partition}")
                taken.append(partition)
        surplus = len(self.owned) - fair_share
        if surplus > 0 and not self.buffer:
            for partition in sorted(self.owned)[-surplus:]:
                await kv.delete(self._lease_key(partition))
                self._drop(partition)
        return taken

    def _drop(self, partition: int) -> None:
        """Forget a partition; its un-acknowledged messages go to the next owner."""
        self.owned.pop(partition, None)
        self.buffer = [m for m in self.buffer if m.partition != partition]

    async def release(self) -> None:
        for partition in list(self.owned):
            await self.platform.kv.delete(self._lease_key(partition))
        self.owned.clear()
        await self.platform.kv.zrem(f"members:{GROUP}", self.name)

    # --- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        next_lease, next_flush = 0.0, time.monotonic() + self.flush_interval_s
        delay = 0.5
        flushing: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    if time.monotonic() >= next_lease:
                        await self._renew_and_take_over()
                        next_lease = time.monotonic() + self.lease_ttl_s / 3
                    await self._read(max(0.0, min(next_flush, next_lease) - time.monotonic()))
                    delay = 0.5
                except Exception:  # the cache or queue is down: keep the batch, try again
                    log.exception("%s: reading engagement events failed; retrying in %.1f s", self.name, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30)
                if time.monotonic() >= next_flush or len(self.buffer) >= self.batch_size:
                    # The next batch is read while this one is written; flushes stay one at a
                    # time and in order, so a partition's events still apply in id order.
                    if flushing is not None:
                        next_lease = await self._finish_renewing(flushing, next_lease)
                    # At most a batch: a takeover may have read far more (the buffer keeps each
                    # partition's messages in id order, so any prefix is a prefix per partition).
                    batch, self.buffer = self.buffer[: self.batch_size], self.buffer[self.batch_size :]
                    flushing = asyncio.create_task(self.flush_until_done(batch))
                    next_flush = time.monotonic() + self.flush_interval_s
        finally:
            if flushing is not None and not flushing.done():
                flushing.cancel()  # its transaction rolls back; its events stay pending for the next owner
                await asyncio.gather(flushing, return_exceptions=True)
            with contextlib.suppress(Exception):  # best effort: unreleased leases simply run out
                await self.release()

    async def _finish_renewing(self, flushing: asyncio.Task[None], next_lease: float) -> float:
        """Wait for the flush in progress, renewing the leases when due meanwhile (a slow flush
        must not let them run out); returns when the next renewal is due."""
        while not flushing.done():
            await asyncio.wait({flushing}, timeout=max(0.0, next_lease - time.monotonic()))
            if flushing.done():
                break
            try:
                await self._renew_and_take_over()
                next_lease = time.monotonic() + self.lease_ttl_s / 3
            except Exception:  # the cache is down: the flush goes on; try again shortly
                log.exception("%s: renewing leases during a flush failed", self.name)
                next_lease = time.monotonic() + 0.5
        await flushing
        return next_lease

    async def _renew_and_take_over(self) -> None:
        for partition in await self.maintain_leases():
            taken = await self.platform.queue.consume(
                Topic.ENGAGEMENT,
                GROUP,
                self.name,
                # All a former owner can hold un-acknowledged: the batch being written and the
                # one being read. The read also takes new messages up to that count.
                count=2 * self.batch_size,
                block_ms=0,
                partitions=[partition],
                claim_idle_ms=0,
            )
            self.buffer.extend(taken)  # after the await: a finishing flush may swap the list meanwhile

    async def _read(self, wait_s: float) -> None:
        if self.owned and len(self.buffer) < self.batch_size:
            taken = await self.platform.queue.consume(
                Topic.ENGAGEMENT,
                GROUP,
                self.name,
                count=self.batch_size - len(self.buffer),
                block_ms=int(wait_s * 1000),
                partitions=list(self.owned),
                claim_idle_ms=NEVER_MS,
            )
            self.buffer.extend(taken)
        elif not self.owned:  # nothing to read until a lease comes our way
            await asyncio.sleep(wait_s)
        # A full buffer returns at once: the loop flushes it (waiting for the flush in progress).

    async def flush_until_done(self, batch: list[Message]) -> None:
        """Flush, retrying a failed flush (database down) with backoff: the batch must be
        written before the next one of the same partitions."""
        delay = 0.5
        while True:
            try:
                kept = await self.flush(batch)
                break
            except Exception:
                log.exception("%s: flush failed; retrying in %.1f s", self.name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        self.buffer[:0] = kept  # in place: the reading loop holds no stale reference to lose them

    # --- one flush -------------------------------------------------------------------------

    async def flush(self, batch: list[Message]) -> list[Message]:
        """Apply `batch`; returns the messages to apply again (see `_settle_fenced`)."""
        batch = [m for m in batch if m.partition in self.owned]  # partitions lost meanwhile are not ours
        if not batch:
            return []
        started = time.perf_counter()
        by_lane: dict[tuple[int, str], list[Message]] = defaultdict(list)
        for message in batch:
            by_lane[message.partition, message.lane].append(message)
        by_stream = {
            f"{Topic.ENGAGEMENT}:{partition}:{lane}": _in_id_order(messages)
            for (partition, lane), messages in by_lane.items()
        }
        signals: list[EngagementEvent] = []
        async with self.platform.sessions() as session:
            applied, fenced, totals = await self._apply(session, by_stream, signals)
            await session.commit()
        kept = await self._settle_fenced(fenced)
        await self._ack([m for m in batch if m.partition not in fenced])
        AGGREGATOR_EVENTS.inc(applied)
        AGGREGATOR_FLUSH_SECONDS.observe(time.perf_counter() - started)
        try:
            await cache_counts(self.platform.kv, totals)
            await events.publish_many(
                self.platform.pubsub, [ReelCountsChanged(reel_id, counts) for reel_id, counts in totals.items()]
            )
        except Exception:  # committed and acked: stale cached counts expire, the next change republishes
            log.exception("%s: caching or publishing counts failed", self.name)
        try:
            await feed_signals.fold(self.platform.sessions, self.platform.kv, self.platform.settings, signals)
        except Exception:  # features are a best-effort view: the events are stored for training anyway
            log.exception("%s: folding the flush into the feed's features failed", self.name)
        return [m for m in batch if m.partition in kept]

    async def _settle_fenced(self, fenced: dict[int, int]) -> set[int]:
        """Partitions whose mark carries a newer epoch than ours. If another aggregator holds
        the lease now, the partition is theirs: drop it, leaving its messages to them. If we
        still hold it, the cache lost its epoch counters (a Redis without persistence was
        restarted): move our epoch past the mark's and keep the batch for the next flush."""
        kept = set()
        for partition, marked_epoch in fenced.items():
            if await self.platform.kv.get(self._lease_key(partition)) == self.name:
                epoch_key = f"epoch:{GROUP}:{partition}"
                current = await self.platform.kv.incr(epoch_key, 0)
                self.owned[partition] = await self.platform.kv.incr(epoch_key, max(1, marked_epoch + 1 - current))
                log.warning(
                    "%s: partition %d epoch moved past %d (cache lost its counters)", self.name, partition, marked_epoch
                )
                kept.add(partition)
            else:
                log.warning("%s: partition %d has a newer owner; leaving its messages to it", self.name, partition)
                self.owned.pop(partition, None)
        return kept

    async def _ack(self, messages: list[Message]) -> None:
        """Acknowledge a committed batch, retrying while the queue is unreachable: unacknowledged,
        the messages would stay pending (harmless replays, but a growing backlog)."""
        delay = 0.5
        while True:
            try:
                await self.platform.queue.ack_many(messages, GROUP)
                return
            except Exception:
                log.exception("%s: acknowledging a flushed batch failed; retrying in %.1f s", self.name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def _apply(
        self, session: AsyncSession, by_stream: dict[str, list[Message]], signals: list[EngagementEvent]
    ) -> tuple[int, dict[int, int], dict[int, dict[str, int]]]:
        offsets = {
            row.partition: row
            for row in (
                await session.scalars(
                    select(AggregatorOffset).where(AggregatorOffset.partition.in_(list(by_stream))).with_for_update()
                )
            ).all()
        }
        deltas: dict[int, list[int]] = {}  # reel -> its count changes, in COUNT_FIELDS order
        views: list[Viewed] = []
        marks: list[dict[str, Any]] = []
        fenced: dict[int, int] = {}  # partition -> the newer epoch found on its mark
        applied = 0
        fold = self._fold
        for stream, messages in by_stream.items():
            partition = messages[0].partition
            epoch = self.owned.get(partition, 0)
            row = offsets.get(stream)
            if row is not None and row.epoch > epoch:
                fenced[partition] = row.epoch
                continue
            fresh = messages
            if row is not None:  # in id order: the replays, if any, come first
                high = _position(row.high_water)
                first_fresh = next((n for n, m in enumerate(messages) if _position(m.id) > high), len(messages))
                fresh = messages[first_fresh:]
            for message in fresh:
                fold(message.payload, deltas, views, signals)
            applied += len(fresh)
            if fresh:
                high_water = fresh[-1].id
            else:  # only replays: the mark stays where it is
                high_water = row.high_water if row else messages[-1].id
            marks.append({"partition": stream, "high_water": high_water, "epoch": epoch})
        existing = set((await session.scalars(select(Reel.id).where(Reel.id.in_(list(deltas))))).all())
        rows = [
            dict(zip(COUNT_COLUMNS, (reel_id, *delta), strict=True))
            for reel_id, delta in deltas.items()
            if reel_id in existing and any(delta)
        ]
        totals = await self._upsert_counts(session, rows)
        await _insert_watches(session, [view for view in views if view.reel_id in existing])
        await _insert_impressions(session, [e for e in signals if isinstance(e, FeedServed)])
        await self._upsert_marks(session, marks)
        return applied, fenced, totals

    @staticmethod
    def _fold(
        payload: dict[str, Any],
        deltas: dict[int, list[int]],
        views: list[Viewed],
        signals: list[EngagementEvent],
    ) -> None:
        try:
            event = decode_engagement_event(payload)
        except UnknownMessage as unknown:
            log.error("%s; skipped", unknown)
            return
        signals.append(event)
        if isinstance(event, FeedServed):
            return  # stored with the flush (`_insert_impressions`); no count changes
        # A reel's deltas exist once any event names it: its watches are kept if the reel is.
        delta = deltas.get(event.reel_id) or deltas.setdefault(event.reel_id, [0, 0, 0, 0])
        match event:  # views first: half of all events are views
            case Viewed():
                if event.counted:
                    delta[VIEWS] += 1
                views.append(event)
            case Liked():
                delta[LIKES] += 1
            case Unliked():
                delta[LIKES] -= 1
            case Commented():
                delta[COMMENTS] += 1
            case Uncommented():
                delta[COMMENTS] -= 1
            case Shared():
                delta[SHARES] += 1
            case other:
                log.error("%r is not an engagement event; skipped", other)

    async def _upsert_counts(self, session: AsyncSession, rows: list[dict[str, int]]) -> dict[int, dict[str, int]]:
        """Add the deltas in one executemany, then read the new absolute counts back (the rows
        stay locked by the update until the commit). One statement text whatever the number
        of reels, so SQLAlchemy compiles it once: a multi-row VALUES with RETURNING was compiled
        afresh every flush, a bound parameter per count."""
        if not rows:
            return {}
        insert = db.insert(session, db.table_of(ReelCounts))
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[ReelCounts.reel_id],
                set_={f: getattr(ReelCounts, f) + getattr(insert.excluded, f) for f in COUNT_FIELDS},
            ),
            rows,
        )
        found = await session.execute(
            select(ReelCounts.reel_id, *SERVED_COLUMNS).where(ReelCounts.reel_id.in_([row["reel_id"] for row in rows]))
        )
        return {reel_id: served(values) for reel_id, *values in found.all()}

    @staticmethod
    async def _upsert_marks(session: AsyncSession, marks: list[dict[str, Any]]) -> None:
        if not marks:
            return
        insert = db.insert(session, db.table_of(AggregatorOffset)).values(marks)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[AggregatorOffset.partition],
                set_={"high_water": insert.excluded.high_water, "epoch": insert.excluded.epoch},
            )
        )


# A watch row's columns, in the order `_insert_watches` writes them (the context as JSON text).
WATCH_COLUMNS = (
    "id",
    "reel_id",
    "viewer_id",
    "session_id",
    "watched_ms",
    "completed",
    "counted",
    "context",
    "created_at",
)
# SQLAlchemy's layout of a DateTime on SQLite (it leaves the offset out; ours are all UTC).
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
# Contexts' JSON text by their orjson bytes: a flush's views carry a few distinct contexts, and
# `json.dumps` (the text stored so far) costs ten times orjson's encoding.
_CONTEXTS: dict[bytes, str] = {}
CONTEXTS_KEPT = 4096


def _context_json(context: Mapping[str, Any] | None) -> str | None:
    """`json.dumps(context)`, remembered for contexts seen before. Equal orjson bytes mean equal
    JSON values of the same types: orjson keeps key order and tells 1 from 1.0 and true. (It
    writes NaN and infinities as null, but the queue's payloads are decoded by orjson, which
    takes none: no context here holds one.)"""
    if context is None:
        return None
    try:
        key = orjson.dumps(context)
    except TypeError:  # what orjson cannot encode (an integer past 64 bits, a non-string key)
        return json.dumps(context)
    text = _CONTEXTS.get(key)
    if text is None:
        if len(_CONTEXTS) >= CONTEXTS_KEPT:
            _CONTEXTS.clear()
        text = _CONTEXTS[key] = json.dumps(context)
    return text


def _sqlite_time(at: str) -> str:
    """An event's ISO 8601 time in SQLITE_TIME's layout. The times `datetime.isoformat()` gives
    an aware UTC time with microseconds (every event's) are cut and pasted; anything else goes
    through strftime. Parsed either way: a time that does not parse fails the flush as before."""
    moment = datetime.fromisoformat(at)
    if (
        len(at) == 32
        and at.endswith("+00:00")
        and at[10] == "T"
        and at[19] == "."
        and at[4] == at[7] == "-"
        and at[13] == at[16] == ":"
    ):
        return f"{at[:10]} {at[11:26]}"
    return moment.strftime(SQLITE_TIME)


async def _insert_watches(session: AsyncSession, views: list[Viewed]) -> None:
    """Every view of the flush, stored for the ranker, through the driver itself: COPY on
    PostgreSQL, one executemany on SQLite. Half of the events are views, and SQLAlchemy's
    handling of each row's parameters cost more than the database's writing of it."""
    if not views:
        return
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None  # an open connection has its driver's (asyncpg's or aiosqlite's) connection
    postgres = session.get_bind().dialect.name == "postgresql"
    time_of: Callable[[str], Any] = datetime.fromisoformat if postgres else _sqlite_time
    context_of = _context_json
    rows = [
        (
            id_,
            view.reel_id,
            view.viewer_id,
            view.session_id,
            view.watched_ms,
            view.completed,
            view.counted,
            context_of(view.context),
            time_of(view.at),
        )
        for id_, view in zip(new_ids(len(views)), views, strict=True)
    ]
    if postgres:
        await raw.copy_records_to_table(WatchEvent.__tablename__, records=rows, columns=list(WATCH_COLUMNS))
        return
    statement = f"INSERT INTO {WatchEvent.__tablename__} ({', '.join(WATCH_COLUMNS)}) VALUES ({', '.join('?' * len(WATCH_COLUMNS))})"
    await raw.executemany(statement, rows)


async def _insert_impressions(session: AsyncSession, served: list[FeedServed]) -> None:
    """The flush's feed pages as impression rows (reels deleted since are left out)."""
    rows = [
        {
            "id": new_id(),
            "reel_id": reel_id,
            "viewer_id": page.viewer_id,
            "session_id": page.session_id,
            "feed_session": page.feed_session,
            "position": position,
            "source": source,
            "score": score,
            "created_at": datetime.fromisoformat(page.at),
        }
        for page in served
        for reel_id, position, source, score in page.items
    ]
    if not rows:
        return
    existing = set((await session.scalars(select(Reel.id).where(Reel.id.in_({row["reel_id"] for row in rows})))).all())
    kept = [row for row in rows if row["reel_id"] in existing]
    if kept:
        await session.execute(insert(db.table_of(FeedImpression)), kept)
