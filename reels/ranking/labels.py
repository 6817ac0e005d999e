"""What counts as relevant, and the three heads' labels, including the duration-debiased full watch.

A 10 s reel is finished far more easily than a 90 s one, so "watch ratio ≥ 1" mostly learns
"short". Following Kuaishou's D2Q (KDD 2022), events are bucketed by duration and a full watch is
a watch ratio in the top share of its own bucket, the share being the log's overall full-watch rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reels.ranking.table import EventTable

THREE_SECONDS_MS = 3000.0
MAX_GRADE_WATCH_RATIO = 2.0  # a reel looped more than twice gains no more


@dataclass(frozen=True, slots=True)
class RelevanceRule:
    """An interaction is relevant with a watch ratio ≥ `watch_ratio` or a rating ≥ `rating`."""

    watch_ratio: float = 1.0
    rating: float = 4.0
    like_rating: float = 5.0  # in a rating log, the top rating stands in for a like

    def relevant(self, table: EventTable) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (table.watch_ratio >= self.watch_ratio) | (table.rating >= self.rating)

    def grade(self, table: EventTable) -> np.ndarray:
        """Graded gain of each event: its watch ratio (capped), or rating steps above the bar, when relevant."""
        watch = np.nan_to_num(np.minimum(table.watch_ratio, MAX_GRADE_WATCH_RATIO), nan=0.0)
        rated = np.nan_to_num(table.rating - self.rating + 1.0, nan=0.0)
        return np.where(self.relevant(table), np.maximum(watch, rated), 0.0).astype(np.float32)

    def liked(self, table: EventTable) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return table.liked | (table.rating >= self.like_rating)


def watched_3s(table: EventTable) -> np.ndarray:
    """At least three seconds watched; a rated item counts as watched."""
    watched_ms = table.watch_ratio * table.duration_ms
    with np.errstate(invalid="ignore"):
        by_time = watched_ms >= THREE_SECONDS_MS
        # Without a duration, a fifth of the item stands in for three seconds of a typical reel.
        by_ratio = ~np.isfinite(table.duration_ms) & (table.watch_ratio >= 0.2)
    return np.asarray(by_time | by_ratio | np.isfinite(table.rating))


@dataclass(frozen=True, slots=True)
class DurationQuantiles:
    """Per duration bucket, the watch ratio above which a view counts as a (debiased) full watch."""

    edges_ms: np.ndarray  # inner bucket edges, ascending
    thresholds: np.ndarray  # one watch-ratio threshold per bucket

    @classmethod
    def fit(
        cls, watch_ratio: np.ndarray, duration_ms: np.ndarray, full_ratio: float = 1.0, buckets: int = 10
    ) -> DurationQuantiles:
        known = np.isfinite(watch_ratio) & np.isfinite(duration_ms)
        watch, duration = watch_ratio[known], duration_ms[known]
        if len(watch) < buckets * 10:
            return cls(np.zeros(0), np.array([full_ratio]))
        share = float(np.mean(watch >= full_ratio))
        edges = np.unique(np.quantile(duration, np.linspace(0, 1, buckets + 1)[1:-1]))
        bucket = np.searchsorted(edges, duration, side="right")
        thresholds = np.array(
            [
                np.quantile(watch[bucket == b], 1.0 - share) if np.any(bucket == b) else full_ratio
                for b in range(len(edges) + 1)
            ]
        )
        return cls(edges, thresholds)

    def full_watch(self, watch_ratio: np.ndarray, duration_ms: np.ndarray) -> np.ndarray:
        bucket = np.searchsorted(self.edges_ms, np.nan_to_num(duration_ms, nan=0.0), side="right")
        threshold = np.where(np.isfinite(duration_ms), self.thresholds[bucket], 1.0)
        with np.errstate(invalid="ignore"):
            return watch_ratio >= threshold


@dataclass(frozen=True, slots=True)
class HeadLabels:
    watch_3s: np.ndarray
    full_watch: np.ndarray
    like: np.ndarray


def head_labels(table: EventTable, rule: RelevanceRule, quantiles: DurationQuantiles | None) -> HeadLabels:
    """Labels of the three heads for each event; without quantiles, full watch is plain relevance."""
    full = rule.relevant(table)
    if quantiles is not None and table.has_watch_ratio:
        full = quantiles.full_watch(table.watch_ratio, table.duration_ms) | (table.rating >= rule.rating)
    return HeadLabels(watched_3s(table), full, rule.liked(table))
