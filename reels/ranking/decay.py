"""Exponentially decayed sums per index, updated in time-ordered chunks."""

from __future__ import annotations

import numpy as np


class DecayedSum:
    """Σ weight · 0.5^((now − t) / half_life) per index, kept current as chunks arrive in time order."""

    def __init__(self, half_life_s: float, size: int = 0) -> None:
        if half_life_s <= 0:
            raise ValueError("half_life_s must be positive")
        self.half_life_s = half_life_s
        self.values = np.zeros(size, np.float64)
        self.as_of = float("-inf")

    def grow(self, size: int) -> None:
        if size > len(self.values):
            self.values = np.concatenate([self.values, np.zeros(size - len(self.values))])

    def add(self, index: np.ndarray, timestamp: np.ndarray, weight: np.ndarray | None = None) -> None:
        if len(index) == 0:
            return
        self.grow(int(index.max()) + 1)
        now = max(float(timestamp.max()), self.as_of)
        if np.isfinite(self.as_of):
            self.values *= 0.5 ** ((now - self.as_of) / self.half_life_s)
        decayed = 0.5 ** ((now - timestamp) / self.half_life_s)
        if weight is not None:
            decayed = decayed * weight
        self.values += np.bincount(index, weights=decayed, minlength=len(self.values))
        self.as_of = now

    def at(self, now: float, size: int | None = None) -> np.ndarray:
        """The sums as of `now` (not before the last event added), padded to `size`."""
        self.grow(size or 0)
        if not np.isfinite(self.as_of):
            return self.values.copy()
        return np.asarray(self.values * 0.5 ** (max(now - self.as_of, 0.0) / self.half_life_s))
