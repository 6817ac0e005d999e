"""Training on a Dask cluster (an in-process LocalCluster here) matches training in one process."""

from collections.abc import Iterator
from pathlib import Path

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from reels.cli import app
from reels.domain import keys
from reels.domain.keys import RANKER_ARTIFACT
from reels.ranking import EvalConfig, EventTable, LearnedRanker, RankerConfig, TrainConfig, evaluate
from reels.ranking.distributed import dask_backend
from reels.ranking.embeddings import MFConfig, fit_implicit_mf

QUICK = RankerConfig(train=TrainConfig(rounds=40), depths=(4,))


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as local:
        yield local


def test_heads_trained_on_the_cluster_rank_as_well_as_in_one_process(
    cluster: LocalCluster, small_table: EventTable
) -> None:
    config = EvalConfig(ranker=QUICK)
    alone = evaluate(small_table, "one process", config)
    with Client(cluster) as client:
        spread = evaluate(small_table, "cluster", config, backend=dask_backend(client))
    random = next(row.ndcg for row in alone.lists if row.name == "random")
    # Both learn (far above random); the cluster's boosting differs only by its partitioning.
    assert alone.learned.ndcg > 2 * random and spread.learned.ndcg > 2 * random
    assert spread.learned.ndcg == pytest.approx(alone.learned.ndcg, rel=0.2)
    auc_alone = {row.head: row.auc for row in alone.heads if row.scorer == "learned"}
    auc_spread = {row.head: row.auc for row in spread.heads if row.scorer == "learned"}
    assert auc_spread.keys() == auc_alone.keys() == {"watch_3s", "full_watch", "like"}
    for head, auc in auc_alone.items():
        assert auc_spread[head] == pytest.approx(auc, abs=0.03)


def test_als_solved_in_blocks_on_the_cluster_is_the_same_factorisation(
    cluster: LocalCluster, small_table: EventTable
) -> None:
    arguments = (small_table.user, small_table.item, np.ones(len(small_table)), len(small_table.users))
    items = len(small_table.catalogue)
    config = MFConfig(factors=8, iterations=3)
    users_here, items_here = fit_implicit_mf(*arguments, items, config)
    with Client(cluster) as client:
        backend = dask_backend(client)
        users_there, items_there = fit_implicit_mf(*arguments, items, config, backend.solve_rows)
    np.testing.assert_allclose(users_there, users_here, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(items_there, items_here, rtol=1e-4, atol=1e-5)


def test_train_with_a_dask_scheduler_publishes_a_version(cluster: LocalCluster, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    result = CliRunner().invoke(
        app,
        ["train", "--simulate", "--users", "40", "--reels", "80", "--seed", "2"],
        env={"REELS_DATA_DIR": str(data_dir), "REELS_DASK_SCHEDULER": cluster.scheduler_address},
    )
    assert result.exit_code == 0, result.output
    media = data_dir / "media"
    version = (media / keys.RANKER_CURRENT_KEY).read_text()
    model = LearnedRanker.from_bytes((media / keys.ranker_artifact_key(version, RANKER_ARTIFACT)).read_bytes())
    assert model.training_rows > 0 and set(model.boosters) == {"watch_3s", "full_watch", "like"}


def test_an_unreachable_scheduler_is_named(tmp_path: Path) -> None:
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(
            app,
            ["train", "--simulate", "--users", "20", "--reels", "40", "--dask", "tcp://127.0.0.1:1"],
            env={"REELS_DATA_DIR": str(tmp_path / "var")},
        )
    assert result.exit_code == 1
    assert "Dask scheduler tcp://127.0.0.1:1" in result.stderr
