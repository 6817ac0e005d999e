"""Ranking and classification metrics, written out so each can be checked by hand."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def dcg(gains: np.ndarray) -> float:
    """Σ gain / log2(rank + 1) over ranks 1..n."""
    gains = np.asarray(gains, np.float64)
    return float(np.sum(gains / np.log2(np.arange(2, len(gains) + 2))))


def ndcg_at_k(ranked: np.ndarray, relevant: dict[int, float], k: int) -> float:
    """NDCG@k of one ranked list against graded relevance (item → gain > 0)."""
    if not relevant:
        raise ValueError("NDCG needs at least one relevant item")
    gains = np.array([relevant.get(int(item), 0.0) for item in ranked[:k]])
    ideal = np.sort(np.fromiter(relevant.values(), np.float64))[::-1][:k]
    return dcg(gains) / dcg(ideal)


def recall_at_k(ranked: np.ndarray, relevant: dict[int, float], k: int) -> float:
    """Share of the relevant items that made the top k."""
    if not relevant:
        raise ValueError("recall needs at least one relevant item")
    return sum(1 for item in ranked[:k] if int(item) in relevant) / len(relevant)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    labels = np.asarray(labels, bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def log_loss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(np.asarray(probabilities, np.float64), eps, 1 - eps)
    y = np.asarray(labels, np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def coverage(rankings: np.ndarray, catalogue_size: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    return len(np.unique(rankings[rankings >= 0])) / catalogue_size if catalogue_size else 0.0


def creator_diversity(rankings: np.ndarray, creator: np.ndarray) -> float:
    """Mean share of distinct creators per list, over lists whose items have known creators."""
    shares = []
    for ranked in rankings:
        creators = creator[ranked[ranked >= 0]]
        creators = creators[creators >= 0]
        if len(creators):
            shares.append(len(np.unique(creators)) / len(creators))
    return float(np.mean(shares)) if shares else float("nan")
