"""Re-ranking a scored candidate list: creator discount, no long runs of one topic, short reels on weak links.

- A creator's n-th reel in the list (n from 0) is weighed by 0.75 · 0.5ⁿ + 0.25, as in Twitter's
  published home mixer, so one prolific creator cannot fill a page.
- At most `max_run` reels in a row share a category or a hashtag, while anything else is left.
- On a SLOW network or a LOW device, longer reels are discounted: they stall or drain more.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

SLOW_NETWORK = "SLOW"
LOW_DEVICE = "LOW"


@dataclass(frozen=True, slots=True)
class Candidate:
    item_id: str
    score: float
    creator_id: str | None = None
    category: str | None = None
    hashtags: tuple[str, ...] = ()
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RerankConfig:
    max_run: int = 2
    # On a weak link a reel's score is multiplied by 1 / (1 + duration / short_reel_s), per weakness.
    short_reel_s: float = 30.0


def creator_discount(earlier: int) -> float:
    """Weight of a creator's reel when `earlier` of their reels are already above it."""
    return 0.75 * 0.5**earlier + 0.25


def _scaled(score: float, factor: float) -> float:
    # A factor below 1 makes any score worse, including a negative one.
    return score * factor if score >= 0 else score / factor


def duration_factor(duration_ms: int | None, network: str | None, device: str | None, config: RerankConfig) -> float:
    weaknesses = (network == SLOW_NETWORK) + (device == LOW_DEVICE)
    if not weaknesses or duration_ms is None:
        return 1.0
    return (1.0 / (1.0 + duration_ms / 1000.0 / config.short_reel_s)) ** weaknesses


def _topics(candidate: Candidate) -> set[str]:
    topics = {f"#{tag.lower()}" for tag in candidate.hashtags}
    if candidate.category is not None:
        topics.add(f"category:{candidate.category}")
    return topics


def rerank(
    candidates: Iterable[Candidate],
    limit: int,
    network: str | None = None,
    device: str | None = None,
    config: RerankConfig | None = None,
) -> list[Candidate]:
    """The best `limit` candidates in the order to show them."""
    config = config or RerankConfig()
    pool = list(candidates)
    base = [_scaled(c.score, duration_factor(c.duration_ms, network, device, config)) for c in pool]
    topics = [_topics(c) for c in pool]
    shown_by_creator: Counter[str | None] = Counter()
    # Entries: (−effective score, position, creator count it was computed with). A discount only
    # lowers scores, so a stale entry is recomputed when popped and pushed back.
    heap = [(-score, position, 0) for position, score in enumerate(base)]
    heapq.heapify(heap)
    held_back: list[tuple[float, int, int]] = []
    picked: list[int] = []

    def run_topics() -> set[str]:
        if len(picked) < config.max_run:
            return set()
        return set.intersection(*(topics[p] for p in picked[-config.max_run :]))

    blocked = run_topics()
    while len(picked) < limit and (heap or held_back):
        relaxed = not heap  # only run-breaking candidates are left: take the best of them
        if relaxed:
            heap, held_back = held_back, []
            heapq.heapify(heap)
        negative, position, counted = heapq.heappop(heap)
        creator = pool[position].creator_id
        earlier = shown_by_creator[creator] if creator is not None else 0
        if earlier != counted:
            heapq.heappush(heap, (-_scaled(base[position], creator_discount(earlier)), position, earlier))
            continue
        if not relaxed and topics[position] & blocked:
            held_back.append((negative, position, counted))
            continue
        picked.append(position)
        if creator is not None:
            shown_by_creator[creator] += 1
        for entry in held_back:
            heapq.heappush(heap, entry)
        held_back = []
        blocked = run_topics()
    return [pool[position] for position in picked]
