"""Re-ranking a scored candidate list: creator discount, no long runs of one topic, short reels on weak links.

- A creator's n-th reel in the list (n from 0) is weighed by 0.75 · 0.5ⁿ + 0.25, as in Twitter's
  published home mixer, so one prolific creator cannot fill a page.
- At most `max_run` reels in a row share a category or a hashtag, while anything else is left.
- On a SLOW network or a LOW device, longer reels are discounted: they stall or drain more.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
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


def _weaknesses(network: str | None, device: str | None) -> int:
    return (network == SLOW_NETWORK) + (device == LOW_DEVICE)


def duration_factor(duration_ms: int | None, network: str | None, device: str | None, config: RerankConfig) -> float:
    weaknesses = _weaknesses(network, device)
    if not weaknesses or duration_ms is None:
        return 1.0
    return (1.0 / (1.0 + duration_ms / 1000.0 / config.short_reel_s)) ** weaknesses


def topics_of(hashtags: Iterable[str], category: str | None = None) -> set[str]:
    """What a run of reels must not share more than `max_run` in a row: hashtags and category."""
    topics = {f"#{tag.lower()}" for tag in hashtags}
    if category is not None:
        topics.add(f"category:{category}")
    return topics


def rerank(
    candidates: Iterable[Candidate],
    limit: int,
    network: str | None = None,
    device: str | None = None,
    config: RerankConfig | None = None,
) -> list[Candidate]:
    """The best `limit` candidates in the order to show them."""
    pool = list(candidates)
    picked = rerank_positions(
        [c.score for c in pool],
        [c.creator_id for c in pool],
        [c.duration_ms for c in pool],
        lambda position: topics_of(pool[position].hashtags, pool[position].category),
        limit,
        network=network,
        device=device,
        config=config,
    )
    return [pool[position] for position in picked]


def rerank_positions(
    scores: Sequence[float],
    creators: Sequence[Hashable | None],
    durations_ms: Sequence[int | None],
    topics: Callable[[int], set[str]],
    limit: int,
    *,
    network: str | None = None,
    device: str | None = None,
    config: RerankConfig | None = None,
) -> list[int]:
    """`rerank` over parallel lists, for a caller holding its candidates as columns: the positions
    of the best `limit`, in order. `topics(position)` is asked only of the candidates the picking
    reaches (a list of 50 from 1,500 reaches a few hundred at most)."""
    config = config or RerankConfig()
    if _weaknesses(network, device):  # else every factor is 1
        base = [
            _scaled(score, duration_factor(duration, network, device, config))
            for score, duration in zip(scores, durations_ms, strict=True)
        ]
    else:
        base = list(scores)
    known_topics: dict[int, set[str]] = {}

    def topics_at(position: int) -> set[str]:
        found = known_topics.get(position)
        if found is None:
            found = known_topics[position] = topics(position)
        return found

    shown_by_creator: Counter[Hashable | None] = Counter()
    # Entries: (−effective score, position, creator count it was computed with). A discount only
    # lowers scores, so a stale entry is recomputed when popped and pushed back.
    heap = [(-score, position, 0) for position, score in enumerate(base)]
    heapq.heapify(heap)
    held_back: list[tuple[float, int, int]] = []
    picked: list[int] = []

    def run_topics() -> set[str]:
        if len(picked) < config.max_run:
            return set()
        return set.intersection(*(topics_at(p) for p in picked[-config.max_run :]))

    blocked = run_topics()
    while len(picked) < limit and (heap or held_back):
        relaxed = not heap  # only run-breaking candidates are left: take the best of them
        if relaxed:
            heap, held_back = held_back, []
            heapq.heapify(heap)
        negative, position, counted = heapq.heappop(heap)
        creator = creators[position]
        earlier = shown_by_creator[creator] if creator is not None else 0
        if earlier != counted:
            heapq.heappush(heap, (-_scaled(base[position], creator_discount(earlier)), position, earlier))
            continue
        if not relaxed and blocked and topics_at(position) & blocked:
            held_back.append((negative, position, counted))
            continue
        picked.append(position)
        if creator is not None:
            shown_by_creator[creator] += 1
        for entry in held_back:
            heapq.heappush(heap, entry)
        held_back = []
        blocked = run_topics()
    return picked
