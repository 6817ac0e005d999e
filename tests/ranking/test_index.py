"""The nearest-reels index: the approximate one finds what the exact one finds, and it reaches the
API processes through the object store port as a versioned artifact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from reels.domain import keys
from reels.domain.feed_model import FeedRanker
from reels.ports.objectstore import ObjectStore, from_settings
from reels.ranking import (
    Embeddings,
    EventTable,
    ItemIndex,
    MFConfig,
    RankerConfig,
    TrainConfig,
    build_index,
    train_ranker,
)
from reels.settings import Settings
from tests.services.s3 import S3Service

ITEMS = 6000
FACTORS = 32
K = 20


def clustered_embeddings(seed: int = 0, version: str = "v1") -> Embeddings:
    """Item vectors in 40 taste clusters of different popularity (norms), as MF factors come out."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (40, FACTORS))
    cluster = rng.integers(0, len(centres), ITEMS)
    items = centres[cluster] + rng.normal(0, 0.6, (ITEMS, FACTORS))
    items *= rng.lognormal(0, 0.3, (ITEMS, 1))
    users = centres[rng.integers(0, len(centres), 50)] + rng.normal(0, 0.6, (50, FACTORS))
    return Embeddings(
        user_ids=[str(n) for n in range(len(users))],
        item_ids=[str(1000 + n) for n in range(ITEMS)],
        user_vectors=users.astype(np.float32),
        item_vectors=items.astype(np.float32),
        version=version,
    )


def test_the_approximate_index_finds_the_exact_neighbours() -> None:
    embeddings = clustered_embeddings()
    exact = build_index(embeddings)
    approximate = build_index(embeddings, exact_below=1000)
    assert (exact.kind, approximate.kind) == ("exact", "ivf")

    recalls = []
    for vector in embeddings.user_vectors:
        truth = exact.search(vector, K)
        found = approximate.search(vector, K)
        assert len(truth) == len(found) == K
        # The exact search is the brute force itself: best first by dot product.
        scores = embeddings.item_vectors[truth] @ vector
        assert (np.diff(scores) <= 1e-5).all()
        assert np.isclose(scores[0], (embeddings.item_vectors @ vector).max())
        recalls.append(len(set(truth) & set(found)) / K)
    assert np.mean(recalls) >= 0.95, recalls
    assert min(recalls) >= 0.8, recalls


def test_an_index_is_refused_for_other_embeddings() -> None:
    embeddings = clustered_embeddings(version="v1")
    data = build_index(embeddings, exact_below=1000).to_bytes()
    with pytest.raises(ValueError, match="was not built from embeddings v2"):
        ItemIndex.from_bytes(data, clustered_embeddings(version="v2"))


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.services)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    values: dict[str, object] = {"data_dir": tmp_path, "secret_key": "index-test-" + "x" * 32}
    if request.param == "s3":
        s3: S3Service = request.getfixturevalue("s3_server")
        values |= s3.settings()
    yield from_settings(Settings(**values), public_url="http://reels.test")


async def test_the_index_artifact_round_trips_and_a_newer_version_is_picked_up(
    store: ObjectStore, small_table: EventTable
) -> None:
    model = train_ranker(small_table, RankerConfig(train=TrainConfig(rounds=3), mf=MFConfig(iterations=2))).model
    ranker = FeedRanker(store, reload_s=0, budget_s=1.0)
    try:
        for version, exact_below in (("v1", 1000), ("v2", 100_000)):
            embeddings = clustered_embeddings(version=version)
            index = build_index(embeddings, exact_below=exact_below)
            await store.put_bytes(keys.ranker_artifact_key(version, keys.RANKER_ARTIFACT), model.to_bytes())
            await store.put_bytes(keys.ranker_artifact_key(version, keys.EMBEDDINGS_ARTIFACT), embeddings.to_bytes())
            await store.put_bytes(keys.ranker_artifact_key(version, keys.INDEX_ARTIFACT), index.to_bytes())
            await store.put_bytes(keys.RANKER_CURRENT_KEY, version.encode())

            loaded = await ranker.current()

            assert loaded.version == version and loaded.index is not None
            assert loaded.index.kind == index.kind
            for vector in embeddings.user_vectors[:10]:
                expected = [int(embeddings.item_ids[row]) for row in index.search(vector, K)]
                assert loaded.nearest(vector, K) == expected
    finally:
        await ranker.close()
