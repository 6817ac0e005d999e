"""Training on a Dask cluster: the heads with `xgboost.dask`, the embeddings' ALS solves as cluster tasks.

The replay that turns the log into examples stays with the caller (features are counted in time
order, chunk by chunk); each chunk of examples is scattered to the workers as it is read, so the
caller never holds them all, and the cluster boosts each head over the partitions it holds.
Each ALS half-sweep splits the rows into blocks that workers solve apart (a row's solve depends
only on the other side's factors, broadcast once per half-sweep). What comes back is the same
`LearnedRanker` and `Embeddings` the single-process path makes, so the artifacts are the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse
import xgboost as xgb
from dask import array as da
from distributed import Client, Future
from xgboost import dask as dxgb

from reels.ranking.embeddings import RowSolver, solve_rows
from reels.ranking.models import (
    HEADS,
    MAX_BIN,
    Examples,
    LearnedRanker,
    RoundCallback,
    ScoreWeights,
    TrainConfig,
    params,
)
from reels.ranking.training import Backend, HeadTrainer


@dataclass
class _OnCluster:
    """Examples as dask arrays whose partitions live on the workers. The futures are kept: the
    cluster drops scattered data as soon as no client holds a future of it."""

    features: da.Array
    labels: da.Array
    futures: list[Future[np.ndarray]]

    @classmethod
    def scatter(cls, client: Client, examples: Examples) -> _OnCluster:
        features, labels, futures = [], [], []
        for rows, heads in examples:
            held = client.scatter([rows, heads], hash=False)  # a content key may be mid-release from a past call
            futures.extend(held)
            features.append(da.from_delayed(held[0], shape=rows.shape, dtype=rows.dtype))
            labels.append(da.from_delayed(held[1], shape=heads.shape, dtype=heads.dtype))
        return cls(da.concatenate(features), da.concatenate(labels), futures)


def head_trainer(client: Client) -> HeadTrainer:
    def train_heads(
        examples: Examples,
        config: TrainConfig,
        weights: ScoreWeights,
        on_round: RoundCallback | None,
        validation: Examples | None = None,
    ) -> LearnedRanker:
        """`models.train_heads` on the cluster: one distributed booster per head."""
        if examples.rows == 0:
            raise ValueError("no training examples")
        data = _OnCluster.scatter(client, examples)
        held_out = _OnCluster.scatter(client, validation) if validation is not None and validation.rows else None
        boosters: dict[str, xgb.Booster] = {}
        for column, head in enumerate(HEADS):
            matrix = dxgb.DaskQuantileDMatrix(client, data.features, data.labels[:, column], max_bin=MAX_BIN)
            evals = []
            callbacks: list[xgb.callback.TrainingCallback] = []
            if held_out is not None:
                check = dxgb.DaskQuantileDMatrix(
                    client, held_out.features, held_out.labels[:, column], max_bin=MAX_BIN, ref=matrix
                )
                evals = [(check, "validation")]
                callbacks.append(xgb.callback.EarlyStopping(rounds=config.early_stopping, save_best=True))
            rounds = config.rounds_of(head)
            output = dxgb.train(
                client,
                params(config),
                matrix,
                num_boost_round=rounds,
                evals=evals,
                callbacks=callbacks,
                verbose_eval=False,
            )
            boosters[head] = output["booster"]
            if on_round:
                on_round(head, rounds, rounds)
        means = data.labels.mean(axis=0).compute()
        return LearnedRanker(
            boosters=boosters,
            head_means={head: float(means[column]) for column, head in enumerate(HEADS)},
            weights=weights,
            training_rows=examples.rows,
        )

    return train_heads


def row_solver(client: Client, blocks: int) -> RowSolver:
    def solve(
        confidence: sparse.csr_matrix, fixed: np.ndarray, current: np.ndarray, regularization: float
    ) -> np.ndarray:
        """`embeddings.solve_rows` with the rows cut into blocks solved on the workers."""
        shared = client.scatter(fixed, broadcast=True, hash=False)
        bounds = np.linspace(0, confidence.shape[0], blocks + 1).astype(int)
        futures = [
            client.submit(solve_rows, confidence[start:stop], shared, current[start:stop], regularization, pure=False)
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
            if stop > start
        ]
        return np.vstack(client.gather(futures)) if futures else current.copy()

    return solve


def dask_backend(client: Client) -> Backend:
    """Heads and embeddings on the cluster `client` is connected to."""
    threads = sum(client.nthreads().values()) or 1
    return Backend(train_heads=head_trainer(client), solve_rows=row_solver(client, threads))


@contextmanager
def on_cluster(scheduler: str) -> Iterator[Backend]:
    """A backend on the Dask scheduler at `scheduler` (tcp://host:8786), connected while in use."""
    with Client(scheduler) as client:
        yield dask_backend(client)
