import math

import numpy as np
import pytest

from reels.ranking import metrics
from reels.ranking.training import grouped_ndcg


def test_ndcg_by_hand() -> None:
    ranked = np.array([3, 1, 2])
    relevant = {1: 2.0, 2: 1.0}
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert metrics.ndcg_at_k(ranked, relevant, 3) == pytest.approx(dcg / ideal)
    assert metrics.ndcg_at_k(ranked, relevant, 1) == 0.0
    assert metrics.ndcg_at_k(np.array([1, 2]), relevant, 2) == pytest.approx(1.0)


def test_ndcg_ideal_is_cut_at_k() -> None:
    # Three relevant items but k = 1: the best possible list scores 1.
    assert metrics.ndcg_at_k(np.array([5]), {5: 1.0, 6: 1.0, 7: 1.0}, 1) == pytest.approx(1.0)


def test_recall_by_hand() -> None:
    assert metrics.recall_at_k(np.array([3, 1, 2]), {1: 2.0, 2: 1.0}, 2) == 0.5
    assert metrics.recall_at_k(np.array([3, 1, 2]), {1: 2.0, 2: 1.0}, 3) == 1.0


def test_auc_by_hand_with_ties() -> None:
    # Positive–negative pairs: (0.9 > 0.8), (0.9 > 0.1), (0.3 < 0.8), (0.3 > 0.1): 3 of 4.
    assert metrics.auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.3, 0.1])) == 0.75
    assert metrics.auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5
    assert math.isnan(metrics.auc(np.array([1, 1]), np.array([0.5, 0.2])))


def test_log_loss_by_hand() -> None:
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert metrics.log_loss(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(expected)


def test_coverage_and_creator_diversity() -> None:
    rankings = np.array([[0, 1], [1, 2], [2, -1]])
    assert metrics.coverage(rankings, 10) == 0.3
    creator = np.array([0, 0, 1])
    # Lists: creators (0, 0) → 1/2, (0, 1) → 2/2, (1) → 1/1.
    assert metrics.creator_diversity(rankings, creator) == pytest.approx((0.5 + 1.0 + 1.0) / 3)


def test_validation_ndcg_ranks_each_viewers_own_examples() -> None:
    # Viewer 7 ranks its gain-1 example first and its gain-2 one third; viewer 9 ranks its
    # one relevant example first; viewer 8 has nothing relevant and does not count.
    users = np.array([7, 9, 7, 8, 7, 9])
    gains = np.array([2.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    scores = np.array([0.1, 0.2, 0.9, 0.5, 0.5, 0.3])
    by_hand = (2 / math.log2(4) + 1 / math.log2(2)) / (2 / math.log2(2) + 1 / math.log2(3))
    assert grouped_ndcg(users, gains, scores) == pytest.approx((by_hand + 1.0) / 2)
    assert grouped_ndcg(users, gains, scores, k=1) == pytest.approx((1 / 2 + 1.0) / 2)
