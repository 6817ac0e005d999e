import io
import zipfile

import numpy as np
import pytest

from reels.ranking import (
    HEADS,
    Embeddings,
    EvalConfig,
    EventTable,
    HeuristicScorer,
    LearnedRanker,
    RankerConfig,
    TrainConfig,
    evaluate,
    pair_features,
    train_ranker,
)
from reels.ranking.features import FEATURE_NAMES

QUICK = RankerConfig(train=TrainConfig(rounds=25))


@pytest.fixture(scope="module")
def trained(small_table: EventTable):
    return train_ranker(small_table, QUICK)


def rows_for(trained, table: EventTable) -> np.ndarray:
    snapshot = trained.state.snapshot(float(table.timestamp[-1]), trained.embeddings)
    users = np.repeat(np.arange(10), 30)
    items = np.tile(np.arange(30), 10)
    return pair_features(snapshot, users, items, np.full(len(users), 12.0, np.float32))


def test_ranker_round_trips_through_bytes(trained, small_table: EventTable) -> None:
    rows = rows_for(trained, small_table)
    loaded = LearnedRanker.from_bytes(trained.model.to_bytes())
    assert loaded.version == trained.model.version
    assert loaded.head_weights == pytest.approx(trained.model.head_weights)
    for head in HEADS:
        np.testing.assert_array_equal(loaded.predict(rows)[head], trained.model.predict(rows)[head])
    np.testing.assert_array_equal(loaded.score(rows), trained.model.score(rows))


def test_embeddings_round_trip_through_bytes(trained) -> None:
    loaded = Embeddings.from_bytes(trained.embeddings.to_bytes())
    assert loaded.version == trained.embeddings.version
    assert loaded.item_ids == trained.embeddings.item_ids
    np.testing.assert_array_equal(loaded.user_vectors, trained.embeddings.user_vectors)
    vector = loaded.user_vectors[0]
    nearest = loaded.nearest_items(vector, 5, exclude=np.array([0]))
    assert len(nearest) == 5 and 0 not in nearest
    scores = loaded.item_vectors @ vector
    assert scores[nearest].tolist() == sorted(scores[nearest], reverse=True)


def test_artifacts_of_another_kind_are_refused(trained) -> None:
    with pytest.raises(ValueError, match="not a ranker artifact"):
        LearnedRanker.from_bytes(_zip_with_manifest('{"format": "other"}'))
    with pytest.raises(ValueError, match="feature columns"):
        trained.model.predict(np.zeros((1, 3), np.float32))


def _zip_with_manifest(manifest: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", manifest)
    return buffer.getvalue()


def test_heads_weigh_about_equally_and_negative_feedback_demotes(trained, small_table: EventTable) -> None:
    model = trained.model
    weights = model.head_weights
    for head in HEADS:
        assert weights[head] * model.head_means[head] == pytest.approx(1 / len(HEADS))
    rows = rows_for(trained, small_table)
    marked = rows.copy()
    marked[:, FEATURE_NAMES.index("not_interested_creator")] += 1.0
    assert np.all(model.score(marked) < model.score(rows))
    assert np.all(HeuristicScorer().score(marked) < HeuristicScorer().score(rows))


def test_learned_ranker_beats_random_on_the_simulator(small_table: EventTable) -> None:
    report = evaluate(small_table, "simulator", EvalConfig(ranker=QUICK))
    by_name = {row.name: row for row in report.lists}
    assert set(by_name) == {
        "random",
        "most popular",
        "popularity with half-life",
        "implicit MF",
        "heuristic (cold start)",
        "learned",
    }
    assert by_name["learned"].ndcg > 2 * by_name["random"].ndcg
    assert by_name["learned"].recall > by_name["random"].recall
    learned_heads = {row.head: row for row in report.heads if row.scorer == "learned"}
    assert all(learned_heads[head].auc > 0.6 for head in HEADS)
    assert len(report.ranking_rows()) == report.test_users * report.k
