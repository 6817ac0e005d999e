"""User and item embeddings from implicit feedback (ALS, Hu, Koren & Volinsky 2008) and exact neighbours.

Exact search is a matrix product; an approximate index pays for itself only above ~100k items.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sparse

FORMAT = "reels.embeddings/1"


@dataclass(frozen=True, slots=True)
class MFConfig:
    factors: int = 32
    regularization: float = 0.1
    alpha: float = 10.0  # confidence = 1 + alpha · strength
    iterations: int = 10
    seed: int = 0


@dataclass
class Embeddings:
    """One vector per user and per item; a user's affinity to an item is their dot product."""

    user_ids: list[str]
    item_ids: list[str]
    user_vectors: np.ndarray  # (users, factors) float32
    item_vectors: np.ndarray  # (items, factors) float32
    version: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ"))

    def nearest_items(self, vector: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """Indices of the k items with the highest dot product with `vector`, best first."""
        scores = self.item_vectors @ vector
        if exclude is not None and len(exclude):
            scores[exclude] = -np.inf
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k] if k else np.zeros(0, np.int64)
        best = best[np.argsort(-scores[best], kind="stable")]
        return np.asarray(best[np.isfinite(scores[best])])

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        meta = {"format": FORMAT, "version": self.version}
        np.savez_compressed(
            buffer,
            meta=np.array(json.dumps(meta)),
            user_ids=np.array(self.user_ids, dtype=str),
            item_ids=np.array(self.item_ids, dtype=str),
            user_vectors=self.user_vectors,
            item_vectors=self.item_vectors,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Embeddings:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"not an embeddings artifact of format {FORMAT}: {meta.get('format')!r}")
            return cls(
                user_ids=stored["user_ids"].tolist(),
                item_ids=stored["item_ids"].tolist(),
                user_vectors=stored["user_vectors"],
                item_vectors=stored["item_vectors"],
                version=meta["version"],
            )


RowSolver = Callable[[sparse.csr_matrix, np.ndarray, np.ndarray, float], np.ndarray]
"""(confidence rows, the fixed side's factors, these rows' current factors, λ) → new factors."""


def solve_rows(
    confidence: sparse.csr_matrix, fixed: np.ndarray, current: np.ndarray, regularization: float
) -> np.ndarray:
    """Every row's solve here, in this process; each row is independent of the others, so a
    cluster may solve blocks of rows apart (`reels.ranking.distributed`)."""
    return _least_squares(confidence, fixed, current, regularization)


def fit_implicit_mf(
    user: np.ndarray,
    item: np.ndarray,
    strength: np.ndarray,
    n_users: int,
    n_items: int,
    config: MFConfig | None = None,
    solve: RowSolver = solve_rows,
) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors by alternating least squares; repeated (user, item) pairs add up."""
    config = config or MFConfig()
    confidence = sparse.csr_matrix((config.alpha * strength.astype(np.float64), (user, item)), shape=(n_users, n_items))
    confidence.sum_duplicates()
    rng = np.random.default_rng(config.seed)
    users = rng.normal(0, 0.01, (n_users, config.factors))
    items = rng.normal(0, 0.01, (n_items, config.factors))
    by_item = confidence.T.tocsr()
    for _ in range(config.iterations):
        users = solve(confidence, items, users, config.regularization)
        items = solve(by_item, users, items, config.regularization)
    return users.astype(np.float32), items.astype(np.float32)


def _least_squares(
    confidence: sparse.csr_matrix, fixed: np.ndarray, current: np.ndarray, regularization: float, steps: int = 3
) -> np.ndarray:
    """A few conjugate-gradient steps on every row's weighted ridge regression at once.

    Row u solves (YᵀY + λI + Yᵀ(Cᵤ − I)Y) x = YᵀCᵤpᵤ; warm-started from the last iteration, three
    steps are as good as an exact solve (Takács et al. 2011) and all rows move together in numpy.
    """
    gram = fixed.T @ fixed + regularization * np.eye(fixed.shape[1])
    rows = np.repeat(np.arange(confidence.shape[0]), np.diff(confidence.indptr))
    columns = confidence.indices
    neighbours = fixed[columns]
    weighted = confidence.copy()
    weighted.data = 1.0 + confidence.data
    target = weighted @ fixed

    def apply(x: np.ndarray) -> np.ndarray:
        weighted.data = confidence.data * np.einsum("ij,ij->i", neighbours, x[rows])
        return np.asarray(x @ gram + weighted @ fixed)

    x = current.copy()
    residual = target - apply(x)
    direction = residual.copy()
    norm = np.einsum("ij,ij->i", residual, residual)
    for _ in range(steps):
        if not norm.any():
            break
        moved = apply(direction)
        step = norm / np.maximum(np.einsum("ij,ij->i", direction, moved), 1e-20)
        x += step[:, None] * direction
        residual -= step[:, None] * moved
        new_norm = np.einsum("ij,ij->i", residual, residual)
        direction = residual + (new_norm / np.maximum(norm, 1e-20))[:, None] * direction
        norm = new_norm
    return x
