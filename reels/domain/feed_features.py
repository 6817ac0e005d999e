"""The feature store: counters per reel, creator, viewer and overall, as hashes of numbers in the
key-value port (Redis hashes in production, in-process on the embedded setup), and the model's
input rows built from them.

The aggregator keeps the counters current (`fold_watch`, `fold_like` after each flush); the feed
reads them (`read`) and turns them into rows in `reels.ranking.FEATURE_NAMES` order (`rows`),
as `FeatureState.snapshot` does offline, so the heads see the same features they were trained
on. A reel's **category** is its first hashtag by name (the feed's unit of taste; a reel without
one has none).

Reel hashes have one writer, the aggregator owning the reel's partition, so their decayed
popularity is read, decayed and written back; viewer, creator and overall hashes are written by
every aggregator, with atomic increments only.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from reels.domain import feed_trending
from reels.ports.kv import KeyValue
from reels.ranking import FEATURE_NAMES
from reels.ranking.features import POPULARITY_HALF_LIVES_S

VIEW_MILESTONE_MS = 3000
DAY_S = 24 * 3600.0
PRIOR = 5.0  # rates are smoothed toward the overall rate as if this many events had been seen
# A full watch is a watch ratio of at least this (or the client saying it reached the end).
FULL_WATCH_RATIO = 1.0
_COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}
_POPULARITY_COLUMNS = [(name, _COLUMN[f"item_popularity_{name}"]) for name in POPULARITY_HALF_LIVES_S]


def reel_key(reel_id: int) -> str:
    return f"feat:reel:{reel_id}"


def user_key(user_id: int) -> str:
    return f"feat:user:{user_id}"


def creator_key(creator_id: int) -> str:
    return f"feat:creator:{creator_id}"


GLOBAL_KEY = "feat:global"


@dataclass(frozen=True, slots=True)
class ReelFacts:
    """What the counters need to know about a reel an event is about."""

    reel_id: int
    creator_id: int
    category: str | None
    duration_ms: int | None


class Watch(NamedTuple):
    """One watch to fold (named tuples, as `Like`: built by the ten thousand a flush, several
    times faster than frozen dataclasses)."""

    reel: ReelFacts
    viewer_id: int | None
    watched_ms: int
    completed: bool


# A watch's counters (`_add_watch`): these, then with a known duration these as well.
UNTIMED_FIELDS = ("events", "full", "s3", "watch_s")
WATCH_FIELDS = (*UNTIMED_FIELDS, "watched", "watch_ratio", "skips", "skip_s")


def _add_watch(sums: list[float], full: float, three: bool, watch_s: float, ratio: float | None) -> None:
    """One watch's counters added to `sums` (WATCH_FIELDS order; the same for the reel, the
    viewer and overall). `ratio` is None when the reel's duration is unknown: then the timed
    fields stay as they are. A few additions to a plain list, not a counters dict and a loop
    over it: a flush folds ten thousand watches."""
    sums[0] += 1.0
    sums[1] += full
    sums[2] += 1.0 if three else 0.0
    sums[3] += watch_s
    if ratio is not None:
        sums[4] += 1.0
        sums[5] += ratio
        sums[6] += 0.0 if three else 1.0
        sums[7] += 0.0 if three else watch_s


def popularity_update(current: Mapping[str, float], events: int, now: float) -> dict[str, float]:
    """Increments that bring a reel's decayed popularity sums to `now` and add `events`
    (its one writer reads the hash, then adds the difference)."""
    since = current.get("pop_t", now)
    update = {"pop_t": now - current.get("pop_t", 0.0)}
    for name, half_life in POPULARITY_HALF_LIVES_S.items():
        old = current.get(f"pop_{name}", 0.0)
        update[f"pop_{name}"] = feed_trending.decayed(old, since, now, half_life) + events - old
    return update


def popularity_at(hash_: Mapping[str, float], name: str, now: float) -> float:
    return feed_trending.decayed(
        hash_.get(f"pop_{name}", 0.0), hash_.get("pop_t", now), now, POPULARITY_HALF_LIVES_S[name]
    )


class Candidate(NamedTuple):
    """A reel the feed may show, with what its features need (a named tuple: a list makes ~1,500)."""

    reel_id: int
    creator_id: int
    category: str | None
    hashtags: tuple[str, ...]
    duration_ms: int | None
    created_at: float
    follows_creator: bool
    open_reports: int  # distinct users with an open report of it: a negative signal


@dataclass(frozen=True)
class Stored:
    """The hashes a scoring needs, read in one batch."""

    user: dict[str, float]
    overall: dict[str, float]
    reels: list[dict[str, float]]
    creators: dict[int, dict[str, float]]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.nan


def _smoothed(count: float, of: float, overall_rate: float) -> float:
    return (count + PRIOR * overall_rate) / (of + PRIOR)


def _counters(sums: list[float]) -> dict[str, float]:
    """Sums in WATCH_FIELDS order as a hash's increments: the timed fields only if a watch was timed."""
    return dict(zip(WATCH_FIELDS if sums[4] else UNTIMED_FIELDS, sums, strict=False))


class ReelFeatures:
    """Reels' feature hashes as new feed lists read them, kept in this process for `ttl_s`.

    Viewers of one region share most of their candidates (trending, the newest reels), and a
    fresh list reads ~1,500 hashes: decoding them alone was ~10 ms of the API's CPU a list. A
    reel's counters move by a few events a second at most, and a list ranked on counters a few
    seconds old ranks the same; visibility is never cached (it is read with the reels' rows).
    `ttl_s` 0 reads the store every time. Bounded: the least recently read go first."""

    def __init__(self, kv: KeyValue, ttl_s: float, *, max_reels: int = 200_000) -> None:
        self._kv = kv
        self._ttl_s = ttl_s
        self._max_reels = max_reels
        self._kept: OrderedDict[int, tuple[float, dict[str, float]]] = OrderedDict()

    async def read(self, reel_ids: Sequence[int]) -> list[dict[str, float]]:
        now = time.monotonic()
        kept = self._kept
        found: dict[int, dict[str, float]] = {}
        for reel_id in reel_ids:
            entry = kept.get(reel_id)
            if entry is not None and entry[0] > now:
                kept.move_to_end(reel_id)
                found[reel_id] = entry[1]
        missing = [reel_id for reel_id in reel_ids if reel_id not in found]
        if missing:
            hashes = await self._kv.hgetall_many([reel_key(reel_id) for reel_id in missing])
            found.update(zip(missing, hashes, strict=True))
            if self._ttl_s > 0:
                until = now + self._ttl_s
                for reel_id, hash_ in zip(missing, hashes, strict=True):
                    kept[reel_id] = (until, hash_)
                    kept.move_to_end(reel_id)
                while len(kept) > self._max_reels:
                    kept.popitem(last=False)
        return [found[reel_id] for reel_id in reel_ids]


def rows(
    stored: Stored,
    candidates: Sequence[Candidate],
    *,
    now: float,
    not_interested: Mapping[int, float],
    similarity: Iterable[float] | None,
    trending_half_life_s: float,
) -> np.ndarray:
    """Model input rows, one per candidate, in FEATURE_NAMES order (NaN where unknown).

    Built a column at a time with numpy: a fresh list scores ~1,500 candidates, and filling rows
    value by value in Python was most of the scoring thread's time. What is the viewer's alone is
    one value down its column; what depends on a category or a creator is worked out once for
    each distinct one."""
    user, overall = stored.user, stored.overall
    events_total = max(overall.get("events", 0.0), 1.0)
    overall_full = overall.get("full", 0.0) / events_total
    overall_like = overall.get("liked", 0.0) / events_total
    overall_3s = overall.get("s3", 0.0) / events_total
    overall_ratio = _ratio(overall.get("watch_ratio", 0.0), overall.get("watched", 0.0))
    overall_ratio = 0.0 if math.isnan(overall_ratio) else overall_ratio
    user_events = user.get("events", 0.0)
    user_completion = _smoothed(user.get("full", 0.0), user_events, overall_full) if user_events else math.nan
    count = len(candidates)
    matrix = np.full((count, len(FEATURE_NAMES)), np.nan)

    def put(name: str, values: np.ndarray | float) -> None:
        matrix[:, _COLUMN[name]] = values

    put("user_events", math.log1p(user_events))
    put("user_watch_ratio", _ratio(user.get("watch_ratio", 0.0), user.get("watched", 0.0)))
    put("user_completion_rate", _ratio(user.get("full", 0.0), user_events))
    put("user_like_rate", _ratio(user.get("liked", 0.0), user_events))
    put("user_skip_rate", _ratio(user.get("skips", 0.0), user.get("watched", 0.0)))
    put("user_skip_seconds", _ratio(user.get("skip_s", 0.0), user.get("skips", 0.0)))
    put("user_watch_seconds", _ratio(user.get("watch_s", 0.0), user.get("watched", 0.0)))
    put("hour_of_day", (now // 3600) % 24)

    reels = stored.reels
    if len(reels) != count:
        raise ValueError(f"{count} candidates but {len(reels)} feature hashes")

    def reel(field: str, missing: float = 0.0) -> np.ndarray:
        return np.fromiter((hash_.get(field, missing) for hash_ in reels), np.float64, count)

    def candidate(value: Callable[[Candidate], float]) -> np.ndarray:
        return np.fromiter(map(value, candidates), np.float64, count)

    def smoothed(counted: np.ndarray, of: np.ndarray, overall_rate: float) -> np.ndarray:
        return (counted + PRIOR * overall_rate) / (of + PRIOR)

    events = reel("events")
    put("item_events", np.log1p(events))
    popularity_since = np.maximum(0.0, now - reel("pop_t", now))
    for name, column in _POPULARITY_COLUMNS:
        decay = 0.5 ** (popularity_since / POPULARITY_HALF_LIVES_S[name])
        matrix[:, column] = np.log1p(reel(f"pop_{name}") * decay)
    velocity = reel("trend_v")
    completion = (reel("trend_full") + feed_trending.PRIOR_COMPLETION * feed_trending.PRIOR_WEIGHT) / (
        velocity + feed_trending.PRIOR_WEIGHT
    )
    stored_trend = np.log2(np.maximum(velocity * completion, 1e-300)) + reel("trend_t") / trending_half_life_s
    put("item_trending", np.log1p(2.0 ** np.minimum(stored_trend - now / trending_half_life_s, 1000.0)))
    put("item_completion_rate", smoothed(reel("full"), events, overall_full))
    put("item_like_rate", smoothed(reel("liked"), events, overall_like))
    put("item_watch_ratio", smoothed(reel("watch_ratio"), reel("watched"), overall_ratio))
    put("item_3s_rate", smoothed(reel("s3"), events, overall_3s))
    put("item_report_rate", smoothed(candidate(lambda c: c.open_reports), events, 0.0))
    put("item_not_interested_rate", smoothed(reel("nope"), events, 0.0))

    put("item_duration_s", candidate(lambda c: c.duration_ms / 1000 if c.duration_ms else math.nan))
    put("item_age_days", np.maximum(0.0, now - candidate(lambda c: c.created_at)) / DAY_S)
    put("follows_creator", candidate(lambda c: float(c.follows_creator)))
    put("not_interested_creator", candidate(lambda c: not_interested.get(c.creator_id, 0.0)))
    if similarity is not None:
        put("embedding_similarity", np.fromiter(similarity, np.float64, count))

    creators = {
        creator_id: _creator_columns(
            stored.creators.get(creator_id, {}), user, creator_id, overall_full, user_events, user_completion
        )
        for creator_id in {c.creator_id for c in candidates}
    }
    by_creator = np.array([creators[c.creator_id] for c in candidates], np.float64).reshape(count, len(_BY_CREATOR))
    for index, name in enumerate(_BY_CREATOR):
        put(name, by_creator[:, index])
    categories = {
        category: _category_columns(category, user, overall, events_total, user_events, user_completion)
        for category in {c.category for c in candidates}
    }
    by_category = np.array([categories[c.category] for c in candidates], np.float64).reshape(count, len(_BY_CATEGORY))
    for index, name in enumerate(_BY_CATEGORY):
        put(name, by_category[:, index])
    return matrix.astype(np.float32)


_BY_CREATOR = ("creator_popularity", "creator_completion_rate", "user_creator_interactions", "user_creator_completion")
_BY_CATEGORY = ("category_share", "user_category_share", "user_category_lift", "user_category_completion")


def _creator_columns(
    creator: Mapping[str, float],
    user: Mapping[str, float],
    creator_id: int,
    overall_full: float,
    user_events: float,
    user_completion: float,
) -> tuple[float, float, float, float]:
    """_BY_CREATOR's values for a candidate of this creator."""
    with_creator = user.get(f"c:{creator_id}:e", 0.0)
    return (
        math.log1p(creator.get("events", 0.0)),
        _smoothed(creator.get("full", 0.0), creator.get("events", 0.0), overall_full),
        math.log1p(with_creator),
        (user.get(f"c:{creator_id}:f", 0.0) + PRIOR * user_completion) / (with_creator + PRIOR)
        if user_events
        else math.nan,
    )


def _category_columns(
    category: str | None,
    user: Mapping[str, float],
    overall: Mapping[str, float],
    events_total: float,
    user_events: float,
    user_completion: float,
) -> tuple[float, float, float, float]:
    """_BY_CATEGORY's values for a candidate of this category (all unknown without one)."""
    if category is None:
        return (math.nan,) * 4
    overall_share = overall.get(f"t:{category}:e", 0.0) / events_total
    if not user_events:
        return overall_share, math.nan, math.nan, math.nan
    in_category = user.get(f"t:{category}:e", 0.0)
    share = in_category / user_events
    return (
        overall_share,
        share,
        share / overall_share if overall_share > 0 else math.nan,
        (user.get(f"t:{category}:f", 0.0) + PRIOR * user_completion) / (in_category + PRIOR),
    )


class Like(NamedTuple):
    reel: ReelFacts
    user_id: int
    amount: int  # 1 for a like, -1 for an unlike


async def fold(
    kv: KeyValue,
    watches: Sequence[Watch],
    likes: Sequence[Like],
    regions: Mapping[int, str | None],
    *,
    now: float,
    half_life_s: float,
    min_interactions: int,
) -> None:
    """Fold one aggregator flush into the feature hashes and the trending sets. `regions` holds
    each reel's region (its creator's)."""
    # Per watch, `_add_watch` to the reel's and the viewer's sums (plain lists, WATCH_FIELDS order).
    reel_sums: dict[int, list[float]] = {}
    user_sums: dict[int, list[float]] = {}
    user_pairs: dict[int, defaultdict[str, float]] = {}  # per creator and category
    pair_keys: dict[int, tuple[str, ...]] = {}  # a reel's: creator's, then its category's if any
    watched: dict[int, ReelFacts] = {}
    for watch in watches:
        reel = watch.reel
        reel_id = reel.reel_id
        ms = watch.watched_ms
        duration = reel.duration_ms
        ratio = min(ms / duration, 2.0) if duration else None  # an unknown duration has no ratio
        full = 1.0 if watch.completed or (ratio is not None and ratio >= FULL_WATCH_RATIO) else 0.0
        three = full == 1.0 or ms >= VIEW_MILESTONE_MS
        sums = reel_sums.get(reel_id)
        if sums is None:
            sums = reel_sums[reel_id] = [0.0] * len(WATCH_FIELDS)
            watched[reel_id] = reel
        watch_s = ms / 1000
        _add_watch(sums, full, three, watch_s, ratio)
        viewer_id = watch.viewer_id
        if viewer_id is None:
            continue
        user = user_sums.get(viewer_id)
        if user is None:
            user = user_sums[viewer_id] = [0.0] * len(WATCH_FIELDS)
            pairs = user_pairs[viewer_id] = defaultdict(float)
        else:
            pairs = user_pairs[viewer_id]
        _add_watch(user, full, three, watch_s, ratio)
        keys = pair_keys.get(reel_id)
        if keys is None:
            keys = (f"c:{reel.creator_id}:e", f"c:{reel.creator_id}:f")
            if reel.category is not None:
                keys += (f"t:{reel.category}:e", f"t:{reel.category}:f")
            pair_keys[reel_id] = keys
        pairs[keys[0]] += 1
        pairs[keys[1]] += full
        if len(keys) == 4:
            pairs[keys[2]] += 1
            pairs[keys[3]] += full
    by_reel = {reel_id: _counters(sums) for reel_id, sums in reel_sums.items()}
    by_user: dict[int, dict[str, float]] = {
        user_id: _counters(sums) | user_pairs[user_id] for user_id, sums in user_sums.items()
    }
    by_creator: dict[int, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    overall: defaultdict[str, float] = defaultdict(float)
    # The creators' and the overall sums are the watched reels' (summed per reel, not per watch:
    # a flush has thousands of watches of a few hundred reels).
    for reel in watched.values():
        sums_of = by_reel[reel.reel_id]
        creator = by_creator[reel.creator_id]
        creator["events"] += sums_of["events"]
        creator["full"] += sums_of["full"]
        for name, amount in sums_of.items():
            overall[name] += amount
        if reel.category is not None:
            overall[f"t:{reel.category}:e"] += sums_of["events"]
    for like in likes:
        liked_reel = by_reel.setdefault(like.reel.reel_id, {})
        liked_reel["liked"] = liked_reel.get("liked", 0.0) + like.amount
        liked_by = by_user.setdefault(like.user_id, {})
        liked_by["liked"] = liked_by.get("liked", 0.0) + like.amount
        overall["liked"] += like.amount
    reel_ids = list(by_reel)
    current = await kv.hgetall_many([reel_key(reel_id) for reel_id in reel_ids])
    # Every hash's increments in two batches (a flush touches thousands of them): the reels',
    # whose new trending sums come back, then the rest, which nothing reads back.
    updates: dict[str, Mapping[str, float]] = {}
    for reel_id, hash_ in zip(reel_ids, current, strict=True):
        counters = by_reel[reel_id]
        events = int(counters.get("events", 0)) + max(0, int(counters.get("liked", 0)))
        update = dict(counters)
        update |= popularity_update(hash_, events, now)
        update |= feed_trending.increments(hash_, events, int(counters.get("full", 0)), now, half_life_s)
        updates[reel_key(reel_id)] = update
    new = await kv.hincr_many(updates)
    others: dict[str, Mapping[str, float]] = {user_key(user_id): counters for user_id, counters in by_user.items()}
    others |= {creator_key(creator_id): counters for creator_id, counters in by_creator.items()}
    if overall:
        others[GLOBAL_KEY] = overall
    await kv.hincr_many(others, returning=False)
    trending = {
        reel_id: (regions.get(reel_id), feed_trending.log_score({**hash_, **new[reel_key(reel_id)]}, half_life_s))
        for reel_id, hash_ in zip(reel_ids, current, strict=True)
        if hash_.get("events", 0.0) + by_reel[reel_id].get("events", 0.0) >= min_interactions
    }
    await feed_trending.put(kv, trending)
