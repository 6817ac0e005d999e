"""User, reel, context and cross features, kept current from an event log in one streaming pass.

`FeatureState.update(chunk)` folds a time-ordered chunk of events into counters (numpy arrays
and sorted key arrays: plain data a feature store can hold); `snapshot(now)` turns them into
rates and affinities as of `now`; `pair_features` builds the model's input rows for
(viewer, reel, hour) pairs. Unknown values are NaN, which the trees treat as missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reels.ranking.decay import DecayedSum
from reels.ranking.embeddings import Embeddings
from reels.ranking.labels import RelevanceRule, watched_3s
from reels.ranking.table import Catalogue, EventTable
from reels.ranking.trending import Trending, TrendingConfig

HOUR_S = 3600.0
DAY_S = 24 * HOUR_S
# Recency-weighted popularity at several half-lives: the trees pick what suits the log.
POPULARITY_HALF_LIVES_S = {"1d": DAY_S, "7d": 7 * DAY_S, "30d": 30 * DAY_S}
_CREATOR_POPULARITY = "7d"

USER_FEATURES = (
    "user_events",
    "user_watch_ratio",
    "user_completion_rate",
    "user_like_rate",
    "user_skip_rate",
    "user_skip_seconds",
    "user_watch_seconds",
)
ITEM_FEATURES = (
    "item_events",
    *(f"item_popularity_{name}" for name in POPULARITY_HALF_LIVES_S),
    "item_trending",
    "item_completion_rate",
    "item_like_rate",
    "item_watch_ratio",
    "item_3s_rate",
    "item_duration_s",
    "item_age_days",
    "item_report_rate",
    "item_not_interested_rate",
    "creator_popularity",
    "creator_completion_rate",
    "category_share",
)
CONTEXT_FEATURES = ("hour_of_day",)
CROSS_FEATURES = (
    "user_category_share",
    "user_category_lift",
    "user_category_completion",
    "user_creator_interactions",
    "user_creator_completion",
    "follows_creator",
    "not_interested_creator",
    "embedding_similarity",
)
FEATURE_NAMES = USER_FEATURES + ITEM_FEATURES + CONTEXT_FEATURES + CROSS_FEATURES

# Per-user and per-item counter columns.
_EVENTS, _WATCHED, _WATCH_RATIO, _FULL, _LIKED, _SKIPS, _SKIP_S, _WATCH_S, _TIMED, _3S, _REPORTS, _NOPE = range(12)
_COUNTERS = 12
_SHIFT = np.int64(32)  # a (row, column) pair key is row << 32 | column
_UNKNOWN_COLUMN = np.int64(2**32 - 1)


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    rule: RelevanceRule = field(default_factory=RelevanceRule)
    trending: TrendingConfig = field(default_factory=TrendingConfig)
    # Rates are smoothed toward the global rate as if `prior_weight` events had been seen.
    prior_weight: float = 5.0


def hour_of_day(timestamp: np.ndarray | float) -> np.ndarray:
    return ((np.asarray(timestamp, np.float64) // HOUR_S) % 24).astype(np.float32)


def _pair_keys(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    columns = np.where(columns >= 0, columns.astype(np.int64), _UNKNOWN_COLUMN)
    return np.asarray((rows.astype(np.int64) << _SHIFT) | columns)


@dataclass(frozen=True)
class PairCounts:
    """Counters keyed by (row, column) pairs: a sorted key array and one column of sums per counter."""

    keys: np.ndarray
    sums: np.ndarray

    @classmethod
    def empty(cls, counters: int) -> PairCounts:
        return cls(np.zeros(0, np.int64), np.zeros((0, counters)))

    def plus(self, keys: np.ndarray, values: np.ndarray) -> PairCounts:
        merged_keys, inverse = np.unique(np.concatenate([self.keys, keys]), return_inverse=True)
        sums = np.zeros((len(merged_keys), self.sums.shape[1]))
        np.add.at(sums, inverse, np.concatenate([self.sums, values]))
        return PairCounts(merged_keys, sums)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Sums for each key, zeros for keys never counted."""
        if len(self.keys) == 0:
            return np.zeros((len(keys), self.sums.shape[1]))
        position = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = self.keys[position] == keys
        return np.where(found[:, None], self.sums[position], 0.0)


def _grown(array: np.ndarray, size: int, fill: float = 0.0) -> np.ndarray:
    if len(array) >= size:
        return array
    padding = np.full((size - len(array), *array.shape[1:]), fill, array.dtype)
    return np.concatenate([array, padding])


class FeatureState:
    """Streaming counters over a time-ordered event log."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self.catalogue: Catalogue | None = None
        self.user = np.zeros((0, _COUNTERS))
        self.item = np.zeros((0, _COUNTERS))
        self.item_first_seen = np.zeros(0)
        self.popularity = {name: DecayedSum(half_life) for name, half_life in POPULARITY_HALF_LIVES_S.items()}
        self.trending = Trending(self.config.trending)
        self.user_category = PairCounts.empty(2)  # events, full watches
        self.user_creator = PairCounts.empty(3)  # events, full watches, "not interested" marks
        self.follows = np.zeros(0, np.int64)
        self.last_timestamp = float("-inf")

    def set_follows(self, pairs: np.ndarray) -> None:
        """Who follows whom, as (user index, creator index) rows."""
        self.follows = np.unique(_pair_keys(pairs[:, 0], pairs[:, 1])) if len(pairs) else np.zeros(0, np.int64)

    def update(self, chunk: EventTable) -> None:
        """Fold in the next time-ordered chunk of events."""
        if len(chunk) == 0:
            return
        if chunk.timestamp[0] < self.last_timestamp:
            raise ValueError("chunks must arrive in time order")
        self.catalogue = chunk.catalogue
        self.user = _grown(self.user, len(chunk.users))
        self.item = _grown(self.item, len(chunk.catalogue))
        self.item_first_seen = _grown(self.item_first_seen, len(chunk.catalogue), np.nan)
        values = self._event_counters(chunk)
        np.add.at(self.user, chunk.user, values)
        np.add.at(self.item, chunk.item, values)
        unseen = np.isnan(self.item_first_seen[chunk.item])
        # The chunk is time-ordered: an item's first row in it is its earliest.
        first_items, first_rows = np.unique(chunk.item[unseen], return_index=True)
        self.item_first_seen[first_items] = chunk.timestamp[unseen][first_rows]
        for counter in self.popularity.values():
            counter.add(chunk.item, chunk.timestamp)
        full = values[:, _FULL]
        self.trending.update(chunk.item, chunk.timestamp, full > 0)
        self.user_category = self.user_category.plus(
            _pair_keys(chunk.user, chunk.catalogue.category[chunk.item]), np.stack([values[:, _EVENTS], full], 1)
        )
        creator = chunk.catalogue.creator[chunk.item]
        known = creator >= 0
        self.user_creator = self.user_creator.plus(
            _pair_keys(chunk.user[known], creator[known]),
            np.stack([values[:, _EVENTS], full, values[:, _NOPE]], 1)[known],
        )
        self.last_timestamp = float(chunk.timestamp[-1])

    def _event_counters(self, chunk: EventTable) -> np.ndarray:
        rule = self.config.rule
        has_ratio = np.isfinite(chunk.watch_ratio)
        three_seconds = watched_3s(chunk)
        skipped = has_ratio & ~three_seconds
        watch_s = chunk.watch_ratio * chunk.duration_ms / 1000.0
        timed = np.isfinite(watch_s)
        watch_s = np.nan_to_num(watch_s, nan=0.0)
        values = np.zeros((len(chunk), _COUNTERS))
        values[:, _EVENTS] = 1.0
        values[:, _WATCHED] = has_ratio
        values[:, _WATCH_RATIO] = np.nan_to_num(np.minimum(chunk.watch_ratio, 2.0), nan=0.0)
        values[:, _FULL] = rule.relevant(chunk)
        values[:, _LIKED] = rule.liked(chunk)
        values[:, _SKIPS] = skipped
        values[:, _SKIP_S] = np.where(skipped, watch_s, 0.0)
        values[:, _WATCH_S] = watch_s
        values[:, _TIMED] = timed
        values[:, _3S] = three_seconds
        values[:, _REPORTS] = chunk.reported
        values[:, _NOPE] = chunk.not_interested
        return values

    def snapshot(self, now: float, embeddings: Embeddings | None = None) -> Snapshot:
        """Features as of `now` for every user and catalogue item counted so far."""
        catalogue = self.catalogue or Catalogue()
        items = len(catalogue)
        user, item = self.user, _grown(self.item, items)
        prior = self.config.prior_weight
        totals = user.sum(axis=0)
        events_total = max(totals[_EVENTS], 1.0)

        def smoothed(counts: np.ndarray, of: np.ndarray, global_rate: float) -> np.ndarray:
            return (counts + prior * global_rate) / (of + prior)

        def ratio(counts: np.ndarray, of: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(of > 0, counts / of, np.nan)

        global_full = totals[_FULL] / events_total
        global_ratio = totals[_WATCH_RATIO] / max(totals[_WATCHED], 1.0)
        user_matrix = np.stack(
            [
                np.log1p(user[:, _EVENTS]),
                ratio(user[:, _WATCH_RATIO], user[:, _WATCHED]),
                ratio(user[:, _FULL], user[:, _EVENTS]),
                ratio(user[:, _LIKED], user[:, _EVENTS]),
                ratio(user[:, _SKIPS], user[:, _WATCHED]),
                ratio(user[:, _SKIP_S], user[:, _SKIPS]),
                ratio(user[:, _WATCH_S], user[:, _TIMED]),
            ],
            axis=1,
        )
        popularity = {name: counter.at(now, items)[:items] for name, counter in self.popularity.items()}
        creator = catalogue.creator
        known_creator = creator >= 0
        creator_slots = int(creator.max()) + 1 if known_creator.any() else 0

        def by_creator(values: np.ndarray) -> np.ndarray:
            sums = np.bincount(creator[known_creator], weights=values[known_creator], minlength=creator_slots)
            return np.where(known_creator, sums[np.maximum(creator, 0)] if creator_slots else 0.0, np.nan)

        category = catalogue.category
        category_events = np.bincount(np.maximum(category, 0), weights=item[:, _EVENTS], minlength=1)
        category_share = np.where(category >= 0, category_events[np.maximum(category, 0)] / events_total, np.nan)
        item_matrix = np.stack(
            [
                np.log1p(item[:, _EVENTS]),
                *(np.log1p(values) for values in popularity.values()),
                np.log1p(self.trending.scores(now, items)[:items]),
                smoothed(item[:, _FULL], item[:, _EVENTS], global_full),
                smoothed(item[:, _LIKED], item[:, _EVENTS], totals[_LIKED] / events_total),
                smoothed(item[:, _WATCH_RATIO], item[:, _WATCHED], global_ratio),
                smoothed(item[:, _3S], item[:, _EVENTS], totals[_3S] / events_total),
                catalogue.duration_ms / 1000.0,
                (now - _grown(self.item_first_seen, items, np.nan)) / DAY_S,
                smoothed(item[:, _REPORTS], item[:, _EVENTS], 0.0),
                smoothed(item[:, _NOPE], item[:, _EVENTS], 0.0),
                np.log1p(by_creator(popularity[_CREATOR_POPULARITY])),
                smoothed(by_creator(item[:, _FULL]), by_creator(item[:, _EVENTS]), global_full),
                category_share,
            ],
            axis=1,
        )
        return Snapshot(
            now=now,
            catalogue=catalogue,
            users=user_matrix.astype(np.float32),
            items=item_matrix.astype(np.float32),
            user_events=user[:, _EVENTS].copy(),
            user_completion=smoothed(user[:, _FULL], user[:, _EVENTS], global_full),
            category_share=category_events / events_total,
            user_category=self.user_category,
            user_creator=self.user_creator,
            follows=self.follows,
            embeddings=embeddings,
            prior_weight=prior,
        )


@dataclass(frozen=True)
class Snapshot:
    """Feature matrices as of one moment; rows of `users`/`items` follow the table's indices."""

    now: float
    catalogue: Catalogue
    users: np.ndarray  # (users, len(USER_FEATURES))
    items: np.ndarray  # (items, len(ITEM_FEATURES))
    user_events: np.ndarray
    user_completion: np.ndarray
    category_share: np.ndarray
    user_category: PairCounts
    user_creator: PairCounts
    follows: np.ndarray
    embeddings: Embeddings | None
    prior_weight: float

    def user_row(self, user: int) -> dict[str, float]:
        return dict(zip(USER_FEATURES, self.user_rows(np.array([user]))[0].tolist(), strict=True))

    def item_row(self, item: int) -> dict[str, float]:
        return dict(zip(ITEM_FEATURES, self.items[item].tolist(), strict=True))

    def user_rows(self, user: np.ndarray) -> np.ndarray:
        """User feature rows; a viewer never seen has zero events and unknown rates."""
        known = user < len(self.users)
        rows = np.full((len(user), len(USER_FEATURES)), np.nan, np.float32)
        rows[known] = self.users[user[known]]
        rows[~known, 0] = 0.0
        return rows


def pair_features(snapshot: Snapshot, user: np.ndarray, item: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """Model input rows (float32, columns in FEATURE_NAMES order) for each (user, item, hour) triple."""
    user = np.asarray(user, np.int64)
    item = np.asarray(item, np.int64)
    known_user = user < len(snapshot.user_events)
    safe_user = np.where(known_user, user, 0)
    user_events = np.where(known_user, snapshot.user_events[safe_user] if len(snapshot.user_events) else 0.0, 0.0)
    user_completion = np.where(known_user & (user_events > 0), snapshot.user_completion[safe_user], np.nan)
    prior = snapshot.prior_weight
    category = snapshot.catalogue.category[item]
    in_category = snapshot.user_category.lookup(_pair_keys(user, category))
    with np.errstate(invalid="ignore", divide="ignore"):
        category_share = np.where(user_events > 0, in_category[:, 0] / user_events, np.nan)
        global_share = np.where(category >= 0, snapshot.category_share[np.maximum(category, 0)], np.nan)
        category_lift = category_share / global_share
    creator = snapshot.catalogue.creator[item]
    known_creator = creator >= 0
    with_creator = snapshot.user_creator.lookup(_pair_keys(user, creator))
    follows = np.isin(_pair_keys(user, creator), snapshot.follows) & known_creator
    embeddings = snapshot.embeddings
    if embeddings is None:
        similarity = np.full(len(user), np.nan)
    else:
        has_vector = user < len(embeddings.user_vectors)
        has_vector &= item < len(embeddings.item_vectors)
        similarity = np.zeros(len(user))
        similarity[has_vector] = np.einsum(
            "ij,ij->i", embeddings.user_vectors[user[has_vector]], embeddings.item_vectors[item[has_vector]]
        )
    cross = np.stack(
        [
            category_share,
            category_lift,
            (in_category[:, 1] + prior * user_completion) / (in_category[:, 0] + prior),
            np.log1p(with_creator[:, 0]),
            np.where(
                known_creator, (with_creator[:, 1] + prior * user_completion) / (with_creator[:, 0] + prior), np.nan
            ),
            follows,
            with_creator[:, 2],
            similarity,
        ],
        axis=1,
    )
    return np.hstack(
        [snapshot.user_rows(user), snapshot.items[item], np.asarray(hour, np.float32).reshape(-1, 1), cross]
    ).astype(np.float32)
