"""Turning a time-ordered log into training examples and a trained ranker.

The training part of the log is replayed once: features are counted up to the start of each
label window, and the window's interactions (plus sampled items the viewer did not interact
with) become labelled examples with those features, exactly as serving would have seen them.
After the last window the counters cover the whole training part: the state serving starts from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from reels.ranking.embeddings import Embeddings, MFConfig, RowSolver, fit_implicit_mf, solve_rows
from reels.ranking.features import FeatureConfig, FeatureState, Snapshot, pair_features
from reels.ranking.labels import DurationQuantiles, head_labels, watched_3s
from reels.ranking.models import (
    ExampleChunks,
    Examples,
    LearnedRanker,
    RoundCallback,
    ScoreWeights,
    TrainConfig,
    train_heads,
)
from reels.ranking.table import EventTable

StepCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RankerConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    mf: MFConfig = field(default_factory=MFConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    label_windows: int = 2
    # Tree depths tried on validation: heads are fitted on every label window but the last,
    # early-stopped and compared on the last (NDCG of each viewer's examples); the winner's depth
    # and rounds are then fitted on all windows. Empty, or one window: no tuning.
    depths: tuple[int, ...] = (3, 4, 6)
    label_share: float = 0.5  # the last half of the training events are labels, window by window
    negatives: int = 10  # sampled items per interaction that the viewer did not interact with
    popular_negative_share: float = 0.0  # of those, drawn by popularity (the rest uniformly)
    debias_full_watch: bool = True
    chunk_events: int = 50_000
    seed: int = 0


@dataclass
class TrainedRanker:
    model: LearnedRanker
    embeddings: Embeddings
    state: FeatureState
    quantiles: DurationQuantiles | None


def interaction_keys(user: np.ndarray, item: np.ndarray) -> np.ndarray:
    return (user.astype(np.int64) << np.int64(32)) | item.astype(np.int64)


class HeadTrainer(Protocol):
    def __call__(
        self,
        examples: Examples,
        config: TrainConfig,
        weights: ScoreWeights,
        on_round: RoundCallback | None,
        validation: Examples | None = None,
    ) -> LearnedRanker: ...


@dataclass(frozen=True)
class Backend:
    """Where the heavy steps run: the boosting of the heads and the ALS row solves. The default is
    this process; `reels.ranking.distributed.dask_backend` runs both on a Dask cluster."""

    train_heads: HeadTrainer = train_heads
    solve_rows: RowSolver = solve_rows


def fit_embeddings(table: EventTable, config: MFConfig, solve: RowSolver = solve_rows) -> Embeddings:
    """Implicit MF over the events watched past three seconds, weighted by watch ratio or rating."""
    kept = watched_3s(table)
    strength = np.where(
        np.isfinite(table.watch_ratio),
        np.minimum(np.nan_to_num(table.watch_ratio, nan=0.0), 2.0),
        np.nan_to_num(table.rating, nan=1.0) / 5.0,
    )
    users, items = table.users, table.catalogue.items
    user_vectors, item_vectors = fit_implicit_mf(
        table.user[kept], table.item[kept], strength[kept], len(users), len(items), config, solve
    )
    return Embeddings(list(users.ids), list(items.ids), user_vectors, item_vectors)


@dataclass
class LabelWindow:
    """One window's deduplicated (user, item) interactions with their head labels and hours."""

    user: np.ndarray
    item: np.ndarray
    hour: np.ndarray
    labels: np.ndarray  # (pairs, heads)
    gains: np.ndarray  # graded relevance (`RelevanceRule.grade`), what validation ranks by

    def __len__(self) -> int:
        return len(self.user)

    def part(self, rows: slice) -> LabelWindow:
        return LabelWindow(self.user[rows], self.item[rows], self.hour[rows], self.labels[rows], self.gains[rows])


def label_window(
    window: EventTable,
    seen_before: np.ndarray,
    known_users: np.ndarray,
    quantiles: DurationQuantiles | None,
    config: RankerConfig,
) -> LabelWindow:
    """The window's interactions of users seen before it, with items they had not interacted with."""
    labels = head_labels(window, config.features.rule, quantiles)
    matrix = np.stack([labels.watch_3s, labels.full_watch, labels.like], axis=1).astype(np.float32)
    keys = interaction_keys(window.user, window.item)
    fresh = ~np.isin(keys, seen_before) & known_users[window.user]
    unique, first, inverse = np.unique(keys[fresh], return_index=True, return_inverse=True)
    merged = np.zeros((len(unique), matrix.shape[1]), np.float32)
    np.maximum.at(merged, inverse, matrix[fresh])
    gains = np.zeros(len(unique), np.float32)
    np.maximum.at(gains, inverse, config.features.rule.grade(window)[fresh])
    rows = np.flatnonzero(fresh)[first]
    hours = ((window.timestamp[rows] // 3600) % 24).astype(np.float32)
    return LabelWindow(window.user[rows], window.item[rows], hours, merged, gains)


def sample_negatives(
    positives: LabelWindow,
    excluded: np.ndarray,
    catalogue_items: np.ndarray,
    popularity: np.ndarray,
    config: RankerConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each positive, `negatives` items the viewer never interacted with: users, items, hours."""
    count = len(positives.user) * config.negatives
    user = np.repeat(positives.user, config.negatives)
    hour = np.repeat(positives.hour, config.negatives)
    by_popularity = rng.random(count) < config.popular_negative_share
    weights = popularity[catalogue_items] + 1.0
    item = np.where(
        by_popularity,
        rng.choice(catalogue_items, count, p=weights / weights.sum()),
        rng.choice(catalogue_items, count),
    )
    keep = ~np.isin(interaction_keys(user, item), excluded)
    return user[keep], item[keep], hour[keep]


@dataclass
class WindowExamples:
    features: np.ndarray
    labels: np.ndarray  # (rows, heads)
    users: np.ndarray
    gains: np.ndarray


def window_examples(
    snapshot: Snapshot,
    positives: LabelWindow,
    excluded: np.ndarray,
    catalogue_items: np.ndarray,
    popularity: np.ndarray,
    config: RankerConfig,
    rng: np.random.Generator,
) -> WindowExamples:
    """Feature rows and head labels for a window's positives and their sampled negatives."""
    neg_user, neg_item, neg_hour = sample_negatives(positives, excluded, catalogue_items, popularity, config, rng)
    user = np.concatenate([positives.user, neg_user])
    item = np.concatenate([positives.item, neg_item])
    hour = np.concatenate([positives.hour, neg_hour])
    labels = np.concatenate([positives.labels, np.zeros((len(neg_user), positives.labels.shape[1]), np.float32)])
    gains = np.concatenate([positives.gains, np.zeros(len(neg_user), np.float32)])
    return WindowExamples(pair_features(snapshot, user, item, hour), labels, user, gains)


def window_bounds(events: int, config: RankerConfig) -> list[int]:
    """Event indices where each label window starts, then the end."""
    first = int(events * (1.0 - config.label_share))
    return [first + (events - first) * k // config.label_windows for k in range(config.label_windows + 1)]


def grouped_ndcg(users: np.ndarray, gains: np.ndarray, scores: np.ndarray, k: int = 20) -> float:
    """Mean NDCG@k over the users with a relevant example, each ranking their own examples."""
    order = np.lexsort((-scores, users))
    users, gains = users[order], gains[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    position = np.arange(len(users)) - np.repeat(starts, np.diff(np.r_[starts, len(users)]))
    discount = np.where(position < k, 1.0 / np.log2(position + 2.0), 0.0)
    dcg = np.add.reduceat(gains * discount, starts)
    ideal_gains = gains[np.lexsort((-gains, users))]
    ideal = np.add.reduceat(ideal_gains * discount, starts)
    scored = ideal > 0
    return float(np.mean(dcg[scored] / ideal[scored])) if scored.any() else float("nan")


def fit_heads(
    examples: Examples,
    config: RankerConfig,
    backend: Backend,
    on_step: StepCallback | None,
    on_round: RoundCallback | None,
) -> LearnedRanker:
    """Pick the depth and rounds on the last label window, then fit on every window."""
    groups = examples.groups()
    train = config.train
    if config.depths and len(groups) > 1:
        fit, validation = examples.part(set(groups[:-1])), examples.part({groups[-1]})
        users, gains = validation.users(), validation.gains()
        best: tuple[float, TrainConfig] | None = None
        for depth in config.depths:
            if on_step:
                on_step(f"validating depth {depth} on the last window ({validation.rows} examples)")
            candidate = replace(train, max_depth=depth)
            model = backend.train_heads(fit, candidate, config.weights, on_round, validation)
            scores = np.concatenate([model.score(features) for features, _ in validation])  # chunk by chunk
            ndcg = grouped_ndcg(users, gains, scores)
            rounds = {head: booster.num_boosted_rounds() for head, booster in model.boosters.items()}
            if best is None or ndcg > best[0]:
                best = (ndcg, replace(candidate, head_rounds=rounds))
        if best is not None:
            train = best[1]
    if on_step:
        on_step(f"training three heads on {examples.rows} examples (depth {train.max_depth})")
    return backend.train_heads(examples, train, config.weights, on_round)


def train_ranker(
    table: EventTable,
    config: RankerConfig | None = None,
    on_step: StepCallback | None = None,
    on_round: RoundCallback | None = None,
    backend: Backend | None = None,
) -> TrainedRanker:
    """Replay the (training) log once, build examples window by window, and fit the heads."""
    config = config or RankerConfig()
    backend = backend or Backend()
    rng = np.random.default_rng(config.seed)
    quantiles = (
        DurationQuantiles.fit(table.watch_ratio, table.duration_ms, config.features.rule.watch_ratio)
        if config.debias_full_watch and table.has_watch_ratio
        else None
    )
    state = FeatureState(config.features)
    state.set_follows(table.follows)
    examples = ExampleChunks()
    bounds = window_bounds(len(table), config)
    replayed = 0
    try:
        for number, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True), 1):
            for chunk in table.rows(replayed, start).chunks(config.chunk_events):
                state.update(chunk)
            replayed = start
            history = table.rows(0, start)
            if on_step:
                on_step(f"window {number}/{config.label_windows}: embeddings")
            embeddings = fit_embeddings(history, config.mf, backend.solve_rows)
            snapshot = state.snapshot(float(table.timestamp[start - 1]) if start else 0.0, embeddings)
            seen_before = np.unique(interaction_keys(history.user, history.item))
            known_users = np.zeros(len(table.users), bool)
            known_users[history.user] = True
            window = table.rows(start, stop)
            positives = label_window(window, seen_before, known_users, quantiles, config)
            excluded = np.union1d(seen_before, interaction_keys(window.user, window.item))
            catalogue_items = np.unique(table.item[:stop])
            popularity = np.bincount(table.item[:stop], minlength=len(table.catalogue)).astype(np.float64)
            if on_step:
                on_step(f"window {number}/{config.label_windows}: {len(positives)} interactions")
            for begin in range(0, len(positives), config.chunk_events):
                part = positives.part(slice(begin, begin + config.chunk_events))
                made = window_examples(snapshot, part, excluded, catalogue_items, popularity, config, rng)
                examples.append(made.features, made.labels, made.users, made.gains, group=number)
        for chunk in table.rows(replayed, len(table)).chunks(config.chunk_events):
            state.update(chunk)
        model = fit_heads(examples, config, backend, on_step, on_round)
    finally:
        examples.close()
    if on_step:
        on_step("embeddings on the whole training part")
    embeddings = fit_embeddings(table, config.mf, backend.solve_rows)
    embeddings.version = model.version  # one version names both artifacts
    return TrainedRanker(model, embeddings, state, quantiles)
