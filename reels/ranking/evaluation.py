"""The offline evaluation: one global time cut, baselines and the learned ranker on the same split.

Protocol: events sorted by time; the last `test_share` of them (by count) are the test part.
Scored users have at least one training interaction and at least one relevant test
interaction with an item they did not interact with in training; their candidates are all
catalogue items they did not interact with in training. Lists are graded by watch ratio
(or rating steps above the bar): NDCG@k and Recall@k, catalogue coverage, creator diversity.
Heads are scored on the test interactions plus sampled non-interacted items: AUC and log-loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sparse

from reels.ranking import metrics
from reels.ranking.decay import DecayedSum
from reels.ranking.features import DAY_S, HOUR_S, Snapshot, hour_of_day, pair_features
from reels.ranking.models import HEADS, HeuristicScorer, RoundCallback, Scorer
from reels.ranking.table import EventTable
from reels.ranking.training import (
    Backend,
    RankerConfig,
    StepCallback,
    TrainedRanker,
    interaction_keys,
    label_window,
    train_ranker,
    window_examples,
)

# Half-lives the recency-popularity baseline may pick from, on a validation cut inside training.
BASELINE_HALF_LIVES_S = (6 * HOUR_S, DAY_S, 7 * DAY_S, 30 * DAY_S)
LEARNED = "learned"


@dataclass(frozen=True, slots=True)
class EvalConfig:
    test_share: float = 0.2
    k: int = 20
    ranker: RankerConfig = field(default_factory=RankerConfig)
    user_batch: int = 64
    seed: int = 0


@dataclass(frozen=True)
class Split:
    train: EventTable
    test: EventTable

    @property
    def cut_time(self) -> float:
        return float(self.train.timestamp[-1])


def time_split(table: EventTable, test_share: float) -> Split:
    """The first (1 − test_share) of the events by count train; the rest test."""
    if not 0.0 < test_share < 1.0:
        raise ValueError("test_share must be between 0 and 1")
    cut = int(len(table) * (1.0 - test_share))
    if cut == 0 or cut == len(table):
        raise ValueError(f"a log of {len(table)} events is too small to split")
    return Split(table.rows(0, cut), table.rows(cut, len(table)))


@dataclass
class ScoredUsers:
    users: np.ndarray  # table user indices, ascending
    relevant: list[dict[int, float]]  # per user: item → graded gain
    seen: sparse.csr_matrix  # (all users, items): interacted with in training


def scored_users(split: Split, config: EvalConfig) -> ScoredUsers:
    train, test = split.train, split.test
    items = len(train.catalogue)
    seen = sparse.csr_matrix(
        (np.ones(len(train), bool), (train.user, train.item)), shape=(len(train.users), items), dtype=bool
    )
    grade = config.ranker.features.rule.grade(test)
    known = np.zeros(len(train.users), bool)
    known[train.user] = True
    fresh = ~np.isin(interaction_keys(test.user, test.item), np.unique(interaction_keys(train.user, train.item)))
    scored = (grade > 0) & known[test.user] & fresh
    relevant: dict[int, dict[int, float]] = {}
    for user, item, gain in zip(test.user[scored], test.item[scored], grade[scored], strict=True):
        gains = relevant.setdefault(int(user), {})
        gains[int(item)] = max(gains.get(int(item), 0.0), float(gain))
    users = np.array(sorted(relevant), np.int64)
    return ScoredUsers(users, [relevant[int(user)] for user in users], seen)


ScoreBatch = Callable[[np.ndarray], np.ndarray]  # user indices → (users, items) scores


def rank(score_batch: ScoreBatch, users: np.ndarray, seen: sparse.csr_matrix, k: int, batch: int) -> np.ndarray:
    """Each user's top k items, best first, never one they interacted with in training."""
    out = np.full((len(users), k), -1, np.int64)
    for begin in range(0, len(users), batch):
        part = users[begin : begin + batch]
        scores = np.asarray(score_batch(part), np.float64)
        scores[seen[part].toarray()] = -np.inf
        top = min(k, scores.shape[1])
        best = np.argpartition(-scores, top - 1, axis=1)[:, :top]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        best = np.take_along_axis(best, order, axis=1)
        valid = np.isfinite(np.take_along_axis(scores, best, axis=1))
        out[begin : begin + len(part), :top] = np.where(valid, best, -1)
    return out


@dataclass(frozen=True)
class ListMetrics:
    name: str
    ndcg: float
    recall: float
    coverage: float
    creator_diversity: float


def list_metrics(name: str, rankings: np.ndarray, test: ScoredUsers, table: EventTable, k: int) -> ListMetrics:
    ndcg = [metrics.ndcg_at_k(r, rel, k) for r, rel in zip(rankings, test.relevant, strict=True)]
    recall = [metrics.recall_at_k(r, rel, k) for r, rel in zip(rankings, test.relevant, strict=True)]
    return ListMetrics(
        name=name,
        ndcg=float(np.mean(ndcg)),
        recall=float(np.mean(recall)),
        coverage=metrics.coverage(rankings, len(table.catalogue)),
        creator_diversity=metrics.creator_diversity(rankings, table.catalogue.creator),
    )


def feature_scorer(scorer: Scorer, snapshot: Snapshot, items: int) -> ScoreBatch:
    """Scores through the same features and scorer the server uses, for every catalogue item."""
    hour = float(hour_of_day(snapshot.now))
    catalogue = np.arange(items)

    def score_batch(users: np.ndarray) -> np.ndarray:
        user = np.repeat(users, items)
        item = np.tile(catalogue, len(users))
        rows = pair_features(snapshot, user, item, np.full(len(user), hour, np.float32))
        return scorer.score(rows).reshape(len(users), items)

    return score_batch


def recency_popularity(train: EventTable, half_life_s: float) -> np.ndarray:
    counter = DecayedSum(half_life_s, len(train.catalogue))
    counter.add(train.item, train.timestamp)
    return counter.at(float(train.timestamp[-1]), len(train.catalogue))


def pick_half_life(train: EventTable, config: EvalConfig) -> float:
    """The baseline's half-life that does best on a validation cut of the training part."""
    inner = time_split(train, config.test_share)
    validation = scored_users(inner, config)
    if len(validation.users) == 0:
        return BASELINE_HALF_LIVES_S[1]

    def ndcg(half_life: float) -> float:
        scores = recency_popularity(inner.train, half_life)
        rankings = rank(
            lambda users: np.tile(scores, (len(users), 1)),
            validation.users,
            validation.seen,
            config.k,
            config.user_batch,
        )
        return list_metrics("", rankings, validation, train, config.k).ndcg

    return max(BASELINE_HALF_LIVES_S, key=ndcg)


@dataclass(frozen=True)
class HeadMetrics:
    scorer: str
    head: str
    auc: float
    log_loss: float
    positive_rate: float


def head_metrics(trained: TrainedRanker, snapshot: Snapshot, split: Split, config: EvalConfig) -> list[HeadMetrics]:
    """AUC and log-loss of each head on the test interactions and sampled non-interacted items."""
    train, test = split.train, split.test
    seen_before = np.unique(interaction_keys(train.user, train.item))
    known = np.zeros(len(train.users), bool)
    known[train.user] = True
    positives = label_window(test, seen_before, known, trained.quantiles, config.ranker)
    if len(positives.user) == 0:
        return []
    excluded = np.union1d(seen_before, interaction_keys(test.user, test.item))
    items = np.arange(len(train.catalogue))
    popularity = np.bincount(train.item, minlength=len(train.catalogue)).astype(np.float64)
    rng = np.random.default_rng(config.seed + 1)
    made = window_examples(snapshot, positives, excluded, items, popularity, config.ranker, rng)
    rows, labels = made.features, made.labels
    results = []
    for scorer in (trained.model, HeuristicScorer(config.ranker.weights)):
        predictions = scorer.predict(rows)
        for column, head in enumerate(HEADS):
            results.append(
                HeadMetrics(
                    scorer=scorer.name,
                    head=head,
                    auc=metrics.auc(labels[:, column], predictions[head]),
                    log_loss=metrics.log_loss(labels[:, column], predictions[head]),
                    positive_rate=float(labels[:, column].mean()),
                )
            )
    return results


@dataclass
class EvalReport:
    source: str
    events: int
    users: int
    items: int
    train_events: int
    test_events: int
    test_users: int
    k: int
    baseline_half_life_s: float
    lists: list[ListMetrics]
    heads: list[HeadMetrics]
    rankings: np.ndarray = field(repr=False)  # the learned ranker's top k per test user
    ranking_users: list[str] = field(repr=False)
    ranking_items: list[str] = field(repr=False)

    @property
    def best_baseline(self) -> ListMetrics:
        return max((row for row in self.lists if row.name != LEARNED), key=lambda row: row.ndcg)

    @property
    def learned(self) -> ListMetrics:
        return next(row for row in self.lists if row.name == LEARNED)

    @property
    def lift(self) -> float:
        """The learned ranker's NDCG@k relative to the best baseline's (0.1 = 10% better)."""
        best = self.best_baseline.ndcg
        return self.learned.ndcg / best - 1.0 if best > 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types; an undefined number (no creators known, one class only) is None."""
        raw: dict[str, object] = {
            "source": self.source,
            "events": self.events,
            "users": self.users,
            "items": self.items,
            "train_events": self.train_events,
            "test_events": self.test_events,
            "test_users": self.test_users,
            "k": self.k,
            "baseline_half_life_s": self.baseline_half_life_s,
            "lists": [asdict(row) for row in self.lists],
            "heads": [asdict(row) for row in self.heads],
            "best_baseline": self.best_baseline.name,
            "lift_over_best_baseline": self.lift,
        }
        return {key: _json_safe(value) for key, value in raw.items()}

    def ranking_rows(self) -> list[tuple[str, int, str]]:
        """(user_id, rank from 1, item_id) for each test user's top k."""
        return [
            (user_id, position + 1, self.ranking_items[item])
            for user_id, ranked in zip(self.ranking_users, self.rankings, strict=True)
            for position, item in enumerate(ranked)
            if item >= 0
        ]


def _json_safe(value: object) -> object:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def evaluate(
    table: EventTable,
    source: str,
    config: EvalConfig | None = None,
    on_step: StepCallback | None = None,
    on_round: RoundCallback | None = None,
    backend: Backend | None = None,
) -> EvalReport:
    config = config or EvalConfig()
    split = time_split(table, config.test_share)
    test = scored_users(split, config)
    if len(test.users) == 0:
        raise ValueError("no test user has both a training interaction and a relevant test interaction")
    items = len(table.catalogue)
    k, batch = config.k, config.user_batch
    trained = train_ranker(split.train, config.ranker, on_step, on_round, backend)
    snapshot = trained.state.snapshot(split.cut_time, trained.embeddings)
    half_life = pick_half_life(split.train, config)
    popularity = np.bincount(split.train.item, minlength=items).astype(np.float64)
    recent = recency_popularity(split.train, half_life)
    rng = np.random.default_rng(config.seed)
    user_vectors, item_vectors = trained.embeddings.user_vectors, trained.embeddings.item_vectors
    rankers: dict[str, ScoreBatch] = {
        "random": lambda users: rng.random((len(users), items)),
        "most popular": lambda users: np.tile(popularity, (len(users), 1)),
        "popularity with half-life": lambda users: np.tile(recent, (len(users), 1)),
        "implicit MF": lambda users: user_vectors[users] @ item_vectors.T,
        "heuristic (cold start)": feature_scorer(HeuristicScorer(config.ranker.weights), snapshot, items),
        LEARNED: feature_scorer(trained.model, snapshot, items),
    }
    lists, rankings = [], {}
    for name, score_batch in rankers.items():
        if on_step:
            on_step(f"ranking for {len(test.users)} test users: {name}")
        rankings[name] = rank(score_batch, test.users, test.seen, k, batch)
        lists.append(list_metrics(name, rankings[name], test, table, k))
    return EvalReport(
        source=source,
        events=len(table),
        users=len(table.users),
        items=items,
        train_events=len(split.train),
        test_events=len(split.test),
        test_users=len(test.users),
        k=k,
        baseline_half_life_s=half_life,
        lists=lists,
        heads=head_metrics(trained, snapshot, split, config),
        rankings=rankings[LEARNED],
        ranking_users=[table.users.ids[user] for user in test.users],
        ranking_items=list(table.catalogue.items.ids),
    )
