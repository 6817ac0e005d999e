"""The nearest reels to a vector: the "Similar" candidates' index over the item embeddings.

Below EXACT_BELOW items the search is exact, one matrix product over every item vector (a
millisecond at 100k × 32). Above it, an inverted-file index (faiss `IndexIVFFlat`, inner product):
the vectors are clustered into about 4·√n lists and a query scans the NPROBE lists nearest to it,
under 1% of a million items. `build_index` is run by `reels train`; the index is a versioned
artifact of the same version as the embeddings it was built from (`to_bytes` / `from_bytes`).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass

import faiss
import numpy as np

from reels.ranking.embeddings import Embeddings

FORMAT = "reels.item-index/1"
EXACT_BELOW = 100_000
NPROBE = 32
TRAIN_SAMPLE = 100  # vectors per list used to place the lists' centroids

# One thread: a single query's scan is small, and on a busy 2-core machine OpenMP threads
# spin-wait for cores (the same reason the XGBoost heads run single-threaded).
faiss.omp_set_num_threads(1)


@dataclass
class ItemIndex:
    """Rows of `item_vectors` nearest a vector by dot product, exact or approximate."""

    item_vectors: np.ndarray  # (items, factors) float32, the embeddings' own
    version: str  # the embeddings' version it was built from
    ann: faiss.Index | None = None  # None: exact search

    @property
    def kind(self) -> str:
        return "exact" if self.ann is None else "ivf"

    def search(self, vector: np.ndarray, k: int) -> np.ndarray:
        """Indices of (up to) the k items with the highest dot product with `vector`, best first."""
        k = min(k, len(self.item_vectors))
        if k <= 0:
            return np.zeros(0, np.int64)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        if self.ann is not None:
            _, rows = self.ann.search(query, k)
            return np.asarray(rows[0][rows[0] >= 0], np.int64)  # -1: fewer than k found in the lists probed
        scores = self.item_vectors @ query[0]
        best = np.argpartition(-scores, k - 1)[:k]
        return np.asarray(best[np.argsort(-scores[best], kind="stable")], np.int64)

    def to_bytes(self) -> bytes:
        """A `.npz`: the format, kind and version, and for an approximate index faiss's own bytes
        (the vectors of an exact one are the embeddings artifact's)."""
        buffer = io.BytesIO()
        meta = {"format": FORMAT, "kind": self.kind, "version": self.version, "items": len(self.item_vectors)}
        ann = faiss.serialize_index(self.ann) if self.ann is not None else np.zeros(0, np.uint8)
        np.savez(buffer, meta=np.array(json.dumps(meta)), ann=ann)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, embeddings: Embeddings) -> ItemIndex:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            ann_bytes = stored["ann"]
        if meta.get("format") != FORMAT:
            raise ValueError(f"not an item index of format {FORMAT}: {meta.get('format')!r}")
        if meta["version"] != embeddings.version or meta["items"] != len(embeddings.item_ids):
            raise ValueError(f"item index {meta['version']} was not built from embeddings {embeddings.version}")
        ann = faiss.deserialize_index(ann_bytes) if meta["kind"] == "ivf" else None
        if ann is not None:
            faiss.extract_index_ivf(ann).nprobe = NPROBE
        return cls(embeddings.item_vectors, embeddings.version, ann)


def build_index(embeddings: Embeddings, exact_below: int = EXACT_BELOW, seed: int = 0) -> ItemIndex:
    """The index for `embeddings`: exact below `exact_below` items, else an inverted file."""
    vectors = np.ascontiguousarray(embeddings.item_vectors, dtype=np.float32)
    count, factors = vectors.shape
    if count < exact_below:
        return ItemIndex(vectors, embeddings.version)
    lists = max(1, min(int(4 * math.sqrt(count)), count // 39))  # faiss wants ≥ 39 vectors a list
    quantizer = faiss.IndexFlatIP(factors)
    ann = faiss.IndexIVFFlat(quantizer, factors, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(seed).permutation(count)[: lists * TRAIN_SAMPLE]
    ann.cp.seed = seed
    ann.train(vectors[np.sort(sample)])
    ann.add(vectors)
    ann.nprobe = NPROBE
    return ItemIndex(vectors, embeddings.version, ann)
