"""The three XGBoost heads, their weighted score, a transparent heuristic for cold start, and artifacts.

Heads: P(3-second watch), P(full watch, duration-debiased), P(like). The score is Σ wᵢ·pᵢ with
wᵢ = 1 / (heads · mean pᵢ) unless configured, so each head contributes about equally on average,
minus penalties for a viewer's "not interested" marks on the creator and for the reel's reports.
Training streams: examples arrive in chunks (on disk) through xgboost's DataIter into a
QuantileDMatrix, which keeps only the quantised matrix.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import xgboost as xgb

from reels.ranking.features import FEATURE_NAMES

HEADS = ("watch_3s", "full_watch", "like")
FORMAT = "reels.ranker/1"
MAX_BIN = 128

RoundCallback = Callable[[str, int, int], None]  # head, rounds done, rounds in all


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    heads: dict[str, float] | None = None  # None: 1 / (heads · mean pᵢ), from the training labels
    not_interested: float = 1.0  # per "not interested" mark the viewer put on the reel's creator
    report: float = 20.0  # times the reel's (smoothed) report rate


@dataclass(frozen=True, slots=True)
class TrainConfig:
    rounds: int = 100
    max_depth: int = 6
    learning_rate: float = 0.15
    min_child_weight: float = 5.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    # With validation examples, a head stops adding trees once its validation log-loss has not
    # improved for this many rounds, and keeps the best round.
    early_stopping: int = 20
    head_rounds: dict[str, int] | None = None  # rounds per head (found on validation), else `rounds`
    # One thread by default: on a busy machine xgboost's OpenMP threads spin-wait and run slower.
    threads: int = 1
    seed: int = 0

    def rounds_of(self, head: str) -> int:
        return self.head_rounds[head] if self.head_rounds else self.rounds


class Scorer(Protocol):
    """What serving and evaluation call: head probabilities and one score per feature row."""

    name: str

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]: ...

    def score(self, features: np.ndarray) -> np.ndarray: ...


def _column(name: str) -> int:
    return FEATURE_NAMES.index(name)


def _penalty(features: np.ndarray, weights: ScoreWeights) -> np.ndarray:
    not_interested = np.nan_to_num(features[:, _column("not_interested_creator")])
    reports = np.nan_to_num(features[:, _column("item_report_rate")])
    return np.asarray(weights.not_interested * not_interested + weights.report * reports)


def _weighted(predictions: dict[str, np.ndarray], head_weights: dict[str, float]) -> np.ndarray:
    return np.asarray(sum(head_weights[head] * predictions[head] for head in HEADS))


class Examples:
    """Training examples kept on disk chunk by chunk: feature rows, head labels, and for each row
    the viewer and the graded gain (what validation ranks by), read back in order."""

    def __init__(self, folder: Path, entries: list[tuple[int, int, int]]) -> None:
        self._folder = folder
        self._entries = entries  # (chunk number, group, rows)

    @property
    def rows(self) -> int:
        return sum(rows for _, _, rows in self._entries)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for number, _, _ in self._entries:
            yield np.load(self._folder / f"{number}.x.npy"), np.load(self._folder / f"{number}.y.npy")

    def _column(self, suffix: str) -> np.ndarray:
        return np.concatenate([np.load(self._folder / f"{number}.{suffix}.npy") for number, _, _ in self._entries])

    def labels(self) -> np.ndarray:
        return self._column("y")

    def users(self) -> np.ndarray:
        return self._column("u")

    def gains(self) -> np.ndarray:
        return self._column("g")

    def groups(self) -> list[int]:
        return sorted({group for _, group, _ in self._entries})

    def part(self, groups: set[int]) -> Examples:
        """The examples of some groups (label windows) only."""
        return Examples(self._folder, [entry for entry in self._entries if entry[1] in groups])


class ExampleChunks(Examples):
    """Examples written to a temporary folder as they are made; `close` deletes them."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="reels-examples-")
        super().__init__(Path(self._directory.name), [])

    def append(
        self, features: np.ndarray, labels: np.ndarray, users: np.ndarray, gains: np.ndarray, group: int = 0
    ) -> None:
        """One chunk: float32 feature rows, a (rows, heads) label matrix, each row's viewer and gain."""
        if len(features) == 0:
            return
        number = len(self._entries)
        for suffix, values in (("x", features), ("y", labels), ("g", gains)):
            np.save(self._folder / f"{number}.{suffix}.npy", values.astype(np.float32))
        np.save(self._folder / f"{number}.u.npy", users.astype(np.int64))
        self._entries.append((number, group, len(features)))

    def close(self) -> None:
        self._directory.cleanup()


class _ChunkIter(xgb.DataIter):
    def __init__(self, chunks: Examples) -> None:
        self._chunks = chunks
        self._iterator: Iterator[tuple[np.ndarray, np.ndarray]] | None = None
        super().__init__()

    def next(self, input_data: Callable[..., None]) -> bool:
        if self._iterator is None:
            self._iterator = iter(self._chunks)
        chunk = next(self._iterator, None)
        if chunk is None:
            return False
        input_data(data=chunk[0], label=chunk[1][:, 0])
        return True

    def reset(self) -> None:
        self._iterator = None


class _Progress(xgb.callback.TrainingCallback):
    def __init__(self, head: str, rounds: int, on_round: RoundCallback) -> None:
        self.head, self.rounds, self.on_round = head, rounds, on_round
        super().__init__()

    def after_iteration(
        self, model: xgb.Booster, epoch: int, evals_log: xgb.callback.TrainingCallback.EvalsLog
    ) -> bool:
        self.on_round(self.head, epoch + 1, self.rounds)
        return False


@dataclass
class LearnedRanker:
    """The trained heads and how to weigh them."""

    boosters: dict[str, xgb.Booster]
    head_means: dict[str, float]
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    feature_names: tuple[str, ...] = FEATURE_NAMES
    version: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ"))
    training_rows: int = 0
    name: str = "learned"

    @property
    def head_weights(self) -> dict[str, float]:
        if self.weights.heads is not None:
            return self.weights.heads
        return {head: 1.0 / (len(HEADS) * max(self.head_means[head], 1e-6)) for head in HEADS}

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]:
        if features.shape[1] != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} feature columns, got {features.shape[1]}")
        return {head: self.boosters[head].inplace_predict(features) for head in HEADS}

    def score(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(_weighted(self.predict(features), self.head_weights) - _penalty(features, self.weights))

    def to_bytes(self) -> bytes:
        """A zip holding a manifest and each head's model: what the object store keeps."""
        manifest = {
            "format": FORMAT,
            "version": self.version,
            "feature_names": list(self.feature_names),
            "heads": list(HEADS),
            "head_means": self.head_means,
            "weights": asdict(self.weights),
            "training_rows": self.training_rows,
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
            for head, booster in self.boosters.items():
                archive.writestr(f"{head}.ubj", bytes(booster.save_raw("ubj")))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LearnedRanker:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            if manifest.get("format") != FORMAT:
                raise ValueError(f"not a ranker artifact of format {FORMAT}: {manifest.get('format')!r}")
            boosters = {}
            for head in manifest["heads"]:
                booster = xgb.Booster()
                booster.load_model(bytearray(archive.read(f"{head}.ubj")))
                boosters[head] = booster
        return cls(
            boosters=boosters,
            head_means=manifest["head_means"],
            weights=ScoreWeights(**manifest["weights"]),
            feature_names=tuple(manifest["feature_names"]),
            version=manifest["version"],
            training_rows=manifest["training_rows"],
        )


def params(config: TrainConfig) -> dict[str, object]:
    return {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "max_bin": MAX_BIN,
        "max_depth": config.max_depth,
        "eta": config.learning_rate,
        "min_child_weight": config.min_child_weight,
        "subsample": config.subsample,
        "colsample_bytree": config.colsample_bytree,
        "nthread": config.threads,
        "seed": config.seed,
    }


def train_heads(
    examples: Examples,
    config: TrainConfig | None = None,
    weights: ScoreWeights | None = None,
    on_round: RoundCallback | None = None,
    validation: Examples | None = None,
) -> LearnedRanker:
    """Fit one binary classifier per head on the streamed examples (labels in HEADS order).

    With `validation`, each head stops early on its validation log-loss and keeps its best round.
    """
    config = config or TrainConfig()
    if examples.rows == 0:
        raise ValueError("no training examples")
    matrix = xgb.QuantileDMatrix(_ChunkIter(examples), max_bin=MAX_BIN, nthread=config.threads)
    labels = examples.labels()
    held_out = (
        xgb.QuantileDMatrix(_ChunkIter(validation), ref=matrix, max_bin=MAX_BIN, nthread=config.threads)
        if validation is not None and validation.rows
        else None
    )
    held_out_labels = validation.labels() if held_out is not None and validation is not None else None
    boosters = {}
    for column, head in enumerate(HEADS):
        matrix.set_label(labels[:, column])
        rounds = config.rounds_of(head)
        callbacks: list[xgb.callback.TrainingCallback] = [_Progress(head, rounds, on_round)] if on_round else []
        evals = []
        if held_out is not None and held_out_labels is not None:
            held_out.set_label(held_out_labels[:, column])
            evals = [(held_out, "validation")]
            callbacks.append(xgb.callback.EarlyStopping(rounds=config.early_stopping, save_best=True))
        boosters[head] = xgb.train(
            params(config), matrix, num_boost_round=rounds, evals=evals, callbacks=callbacks, verbose_eval=False
        )
    return LearnedRanker(
        boosters=boosters,
        head_means={head: float(labels[:, column].mean()) for column, head in enumerate(HEADS)},
        weights=weights or ScoreWeights(),
        training_rows=examples.rows,
    )


class HeuristicScorer:
    """Cold start, before any model is trained: every term is a feature a person can read.

    P(head) ≈ the reel's smoothed rate for that head × the viewer's lift for its category
    (square-rooted, bounded) × how much more the viewer finishes that category than anything
    (bounded) × 1.5 when the viewer follows the creator; the score weighs the heads equally on
    average and multiplies by the reel's recency-weighted popularity (log scale).
    """

    name = "heuristic"
    _RATES = {"watch_3s": "item_3s_rate", "full_watch": "item_completion_rate", "like": "item_like_rate"}

    def __init__(self, weights: ScoreWeights | None = None) -> None:
        self.weights = weights or ScoreWeights()

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]:
        lift = np.clip(np.nan_to_num(features[:, _column("user_category_lift")], nan=1.0), 0.25, 4.0) ** 0.5
        with np.errstate(invalid="ignore", divide="ignore"):
            finishes = features[:, _column("user_category_completion")] / features[:, _column("user_completion_rate")]
        taste = np.clip(np.nan_to_num(finishes, nan=1.0, posinf=4.0), 0.25, 4.0)
        follows = np.where(features[:, _column("follows_creator")] > 0, 1.5, 1.0)
        return {
            head: np.clip(np.nan_to_num(features[:, _column(rate)], nan=0.0) * lift * taste * follows, 0.0, 1.0)
            for head, rate in self._RATES.items()
        }

    def score(self, features: np.ndarray) -> np.ndarray:
        predictions = self.predict(features)
        means = {head: max(float(predictions[head].mean()), 1e-6) for head in HEADS}
        head_weights = self.weights.heads or {head: 1.0 / (len(HEADS) * means[head]) for head in HEADS}
        popularity = 1.0 + np.nan_to_num(features[:, _column("item_popularity_1d")], nan=0.0)
        return np.asarray(_weighted(predictions, head_weights) * popularity - _penalty(features, self.weights))
