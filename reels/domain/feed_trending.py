"""Trending per region: sorted sets the aggregator keeps, per region (the creator's) and overall.

The score is engagement velocity (interactions decayed with REELS_TRENDING_HALF_LIFE_S) times the
smoothed completion rate, for reels with at least REELS_TRENDING_MIN_INTERACTIONS (as
`reels.ranking.trending` computes it offline). It is stored as log2(score) + time / half-life:
decay lowers every reel alike, so the stored order stays right and no reel is ever rescored;
`value` reads a stored score back as of now.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from reels.ports.kv import KeyValue

KEPT = 2000  # reels per sorted set
GLOBAL = "global"
PRIOR_COMPLETION = 0.3
PRIOR_WEIGHT = 5.0


def key(region: str | None) -> str:
    return f"trend:{region or GLOBAL}"


def decayed(value: float, since: float, now: float, half_life_s: float) -> float:
    return float(value * 0.5 ** (max(0.0, now - since) / half_life_s))


def increments(
    current: Mapping[str, float], events: int, full: int, now: float, half_life_s: float
) -> dict[str, float]:
    """Increments of a reel's feature hash that bring its decayed trending sums to `now` and add
    this flush's events (the reel's one writer reads the hash, then adds the difference)."""
    since = current.get("trend_t", now)
    update = {"trend_t": now - current.get("trend_t", 0.0)}
    for name, added in (("trend_v", events), ("trend_full", full)):
        old = current.get(name, 0.0)
        update[name] = decayed(old, since, now, half_life_s) + added - old
    return update


def log_score(reel: Mapping[str, float], half_life_s: float) -> float:
    """The stored score of a reel's feature hash (its sums as of its `trend_t`)."""
    velocity = reel.get("trend_v", 0.0)
    completion = (reel.get("trend_full", 0.0) + PRIOR_COMPLETION * PRIOR_WEIGHT) / (velocity + PRIOR_WEIGHT)
    return math.log2(max(velocity * completion, 1e-300)) + reel.get("trend_t", 0.0) / half_life_s


def value(stored: float, now: float, half_life_s: float) -> float:
    return float(2.0 ** min(stored - now / half_life_s, 1000.0))


async def put(kv: KeyValue, scores: Mapping[int, tuple[str | None, float]]) -> None:
    """Store reels' scores, each as {reel id: (its region, stored score)}, in the global set and
    their region's, keeping the KEPT best of each."""
    sets: dict[str, dict[str, float]] = {}
    for reel_id, (region, stored) in scores.items():
        for name in [key(None)] + ([key(region)] if region else []):
            sets.setdefault(name, {})[str(reel_id)] = stored
    await kv.zadd_capped(sets, keep=KEPT)


async def top(kv: KeyValue, region: str | None, half_life_s: float, *, limit: int) -> list[tuple[int, float]]:
    """The region's trending reels, then the global ones not among them: (reel id, score now)."""
    now = time.time()
    found: dict[int, float] = {}
    for name in [key(region)] * bool(region) + [key(None)]:
        for member, stored in await kv.zrange_desc(name, 0, limit - 1):
            found.setdefault(int(member), value(stored, now, half_life_s))
    return list(found.items())[:limit]
