"""The ranker this process serves: the published model if there is one, else the heuristic.

`reels train` writes a version's artifacts (`ranker.zip`, `embeddings.npz`, `items.index`) to the
object store, then the pointer `RANKER_CURRENT_KEY` naming it. Every API process re-reads the pointer at most
every REELS_RANKER_RELOAD_S and loads a new version without a restart; until a model is published,
or when the published one cannot be loaded, the transparent `HeuristicScorer` serves. `/metrics`
says which (`reels_feed_ranker_info`).

Scoring runs in a small thread pool of its own, under a time budget: the event loop never waits
on xgboost, and a slow scoring is abandoned for the trending order (`ScoringTimeout`).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from reels.domain.keys import (
    EMBEDDINGS_ARTIFACT,
    INDEX_ARTIFACT,
    RANKER_ARTIFACT,
    RANKER_CURRENT_KEY,
    ranker_artifact_key,
)
from reels.metrics import FEED_RANKER
from reels.ports.objectstore import ObjectStore
from reels.ports.objectstore.base import ObjectNotFound
from reels.ranking import Embeddings, HeuristicScorer, ItemIndex, LearnedRanker, Scorer, build_index

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Loaded:
    scorer: Scorer
    embeddings: Embeddings | None
    # The nearest-reels index over the embeddings' item vectors (exact or approximate).
    index: ItemIndex | None
    version: str | None
    # Row of each reel id (text, as training names items) in the embeddings, built once per load.
    item_rows: dict[str, int]
    user_rows: dict[str, int]

    def user_vector(self, user_id: int) -> np.ndarray | None:
        row = self.user_rows.get(str(user_id))
        return self.embeddings.user_vectors[row] if self.embeddings is not None and row is not None else None

    def taste_of(self, reel_ids: list[int]) -> np.ndarray | None:
        """The mean vector of the reels the embeddings know among `reel_ids` (what was watched lately)."""
        if self.embeddings is None:
            return None
        rows = [row for reel_id in reel_ids if (row := self.item_rows.get(str(reel_id))) is not None]
        return self.embeddings.item_vectors[rows].mean(axis=0) if rows else None

    def nearest(self, vector: np.ndarray, k: int) -> list[int]:
        """The ids of the k reels nearest `vector` in the index, best first."""
        if self.embeddings is None or self.index is None:
            return []
        ids = self.embeddings.item_ids
        return [int(ids[row]) for row in self.index.search(vector, k) if ids[row].isdigit()]

    def similarity(self, user_id: int | None, reel_ids: list[int]) -> list[float] | None:
        """The viewer's embedding dot each reel's (NaN for a reel the embeddings do not know)."""
        if user_id is None or self.embeddings is None:
            return None
        vector = self.user_vector(user_id)
        if vector is None:
            return None
        rows = [self.item_rows.get(str(reel_id)) for reel_id in reel_ids]
        vectors = self.embeddings.item_vectors
        return [float(vectors[row] @ vector) if row is not None else float("nan") for row in rows]


HEURISTIC = Loaded(HeuristicScorer(), None, None, None, {}, {})


class ScoringTimeout(TimeoutError):
    pass


class FeedRanker:
    """Per process: the loaded model, its reload check, the scoring pool, and the tasks a page
    leaves behind it (queueing a list to be built ahead; cancelled when the process closes)."""

    def __init__(self, store: ObjectStore, *, reload_s: float, budget_s: float, threads: int = 2) -> None:
        self._store = store
        self._reload_s = reload_s
        self.budget_s = budget_s
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="feed-score")
        self._loaded = HEURISTIC
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()
        self._building: set[asyncio.Task[None]] = set()
        self._report()

    @property
    def loaded(self) -> Loaded:
        return self._loaded

    async def current(self) -> Loaded:
        """The model to score with, after re-reading the pointer if it is due."""
        if time.monotonic() - self._checked_at >= self._reload_s:
            async with self._lock:
                if time.monotonic() - self._checked_at >= self._reload_s:
                    await self._reload()
                    self._checked_at = time.monotonic()
        return self._loaded

    async def _reload(self) -> None:
        try:
            version = (await self._read(RANKER_CURRENT_KEY)).decode().strip()
        except ObjectNotFound:
            return  # nothing published yet: keep what serves
        except Exception:
            log.exception("reading the ranker pointer failed; keeping ranker %s", self._loaded.version)
            return
        if version == self._loaded.version:
            return
        try:
            ranker_bytes = await self._read(ranker_artifact_key(version, RANKER_ARTIFACT))
            embeddings_bytes = await self._read_optional(ranker_artifact_key(version, EMBEDDINGS_ARTIFACT))
            index_bytes = await self._read_optional(ranker_artifact_key(version, INDEX_ARTIFACT))
            self._loaded = await self.run(
                lambda: _load(version, ranker_bytes, embeddings_bytes, index_bytes), budget_s=None
            )
            log.info("serving ranker %s", version)
        except Exception:
            log.exception("loading ranker %s failed; keeping ranker %s", version, self._loaded.version)
        self._report()

    async def _read(self, key: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="reels-ranker-") as folder:
            path = Path(folder) / "artifact"
            await self._store.download_file(key, path)
            return path.read_bytes()

    async def _read_optional(self, key: str) -> bytes | None:
        try:
            return await self._read(key)
        except ObjectNotFound:
            return None

    def _report(self) -> None:
        FEED_RANKER.clear()
        FEED_RANKER.labels(scorer=self._loaded.scorer.name, version=self._loaded.version or "").set(1)

    async def run(self, work: Callable[[], T], *, budget_s: float | None) -> T:
        """`work` in the scoring pool; ScoringTimeout past `budget_s` (None: no limit)."""
        future = asyncio.get_running_loop().run_in_executor(self._pool, work)
        try:
            return await asyncio.wait_for(future, budget_s)
        except TimeoutError:
            raise ScoringTimeout(f"scoring ran over its budget of {budget_s} s") from None

    def in_background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` as a task this ranker keeps until it ends (or `close` cancels it)."""
        task = asyncio.create_task(work, name=name)
        self._building.add(task)
        task.add_done_callback(self._building.discard)

    async def close(self) -> None:
        for task in list(self._building):
            task.cancel()
        await asyncio.gather(*self._building, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _load(version: str, ranker_bytes: bytes, embeddings_bytes: bytes | None, index_bytes: bytes | None) -> Loaded:
    ranker = LearnedRanker.from_bytes(ranker_bytes)
    embeddings = Embeddings.from_bytes(embeddings_bytes) if embeddings_bytes is not None else None
    index = None
    if embeddings is not None:
        # A version published before indexes were: build one here (exact below ~100k reels: free).
        index = ItemIndex.from_bytes(index_bytes, embeddings) if index_bytes is not None else build_index(embeddings)
    return Loaded(
        scorer=ranker,
        embeddings=embeddings,
        index=index,
        version=version,
        item_rows={item: row for row, item in enumerate(embeddings.item_ids)} if embeddings else {},
        user_rows={user: row for row, user in enumerate(embeddings.user_ids)} if embeddings else {},
    )
