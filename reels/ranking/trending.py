"""Trending: engagement velocity times completion, with a half-life and a minimum of interactions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reels.ranking.decay import DecayedSum


@dataclass(frozen=True, slots=True)
class TrendingConfig:
    half_life_s: float = 6 * 3600.0
    min_interactions: int = 5
    # Completion is smoothed toward `prior_completion` as if `prior_weight` views had been seen.
    prior_completion: float = 0.3
    prior_weight: float = 5.0


class Trending:
    """Scores items by recent interactions (decayed) times their smoothed recent completion rate."""

    def __init__(self, config: TrendingConfig | None = None, size: int = 0) -> None:
        self.config = config or TrendingConfig()
        self.interactions = DecayedSum(self.config.half_life_s, size)
        self.completions = DecayedSum(self.config.half_life_s, size)
        self.total = np.zeros(size, np.int64)

    def update(self, item: np.ndarray, timestamp: np.ndarray, completed: np.ndarray) -> None:
        """Add a time-ordered chunk of interactions; `completed` marks full watches."""
        self.interactions.add(item, timestamp)
        self.completions.add(item, timestamp, completed.astype(np.float64))
        counts = np.bincount(item, minlength=len(self.total))
        if len(counts) > len(self.total):
            self.total = np.concatenate([self.total, np.zeros(len(counts) - len(self.total), np.int64)])
        self.total += counts

    def scores(self, now: float, size: int | None = None) -> np.ndarray:
        """One score per item index, at least `size` of them."""
        size = max(size or 0, len(self.total), len(self.interactions.values), len(self.completions.values))
        velocity = self.interactions.at(now, size)
        config = self.config
        completion = (self.completions.at(now, size) + config.prior_completion * config.prior_weight) / (
            velocity + config.prior_weight
        )
        total = np.concatenate([self.total, np.zeros(size - len(self.total), np.int64)])
        return np.where(total >= config.min_interactions, velocity * completion, 0.0)

    def top(self, now: float, n: int) -> np.ndarray:
        """Indices of the n highest-scoring items with a score above zero, best first."""
        scores = self.scores(now)
        best = np.argsort(-scores, kind="stable")[:n]
        return best[scores[best] > 0]
