"""An index of blocked reels' fingerprints that tells whether an upload re-uses one of them.

Lookup is a multi-index over the four 16-bit bands of each 64-bit hash: two hashes within
Hamming distance r agree, by the pigeonhole principle, to within r // 4 bits on at least one
band, so probing every band value that near the query's finds every candidate without scanning
the index. Each band keeps its rows sorted by band value with an offsets table (a CSR layout),
so a probe is two array reads; only candidates are compared bit by bit.

A query takes the upload's windows one second apart, finds each one's indexed windows within
`radius`, and, per blocked reel, looks for one time offset (within `offset_tolerance_s`) at
which many of them line up: matching windows must also be in order, as in the original. It
matches when at least `min_windows` windows and `min_share` of the upload's windows overlapping
the original line up; trims at either end only change the offset.

Adds and removes are cheap to call and fold into the arrays lazily, before the next query or
serialisation, in one O(rows) rebuild; the index is not safe to share between threads.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from reels.moderation.phash import HASH_BITS, SAMPLE_FPS, Fingerprint, hamming

BAND_BITS = 16
BANDS = HASH_BITS // BAND_BITS
QUERY_STEP_S = 1.0
FORMAT_VERSION = 1

_BAND_SHIFTS = np.arange(BANDS, dtype=np.uint64) * np.uint64(BAND_BITS)
_BAND_MASK = np.uint64((1 << BAND_BITS) - 1)


@dataclass(frozen=True)
class Match:
    """An indexed reel an upload copies: `score` is the share of overlapping windows that line
    up, `offset_s` where in the original the upload starts (negative: it starts earlier)."""

    reel_id: str
    score: float
    windows: int
    offset_s: float


@dataclass(frozen=True)
class _Columns:
    """One row per indexed window, and per band its rows ordered by band value."""

    hashes: np.ndarray  # uint64
    slots: np.ndarray  # int32: the reel, an index into `reel_ids`
    positions: np.ndarray  # int32: the window's first sample
    band_orders: tuple[np.ndarray, ...]  # int32 rows sorted by band value
    band_offsets: tuple[np.ndarray, ...]  # int64, 2**16 + 1: where each band value's rows start

    @classmethod
    def build(cls, hashes: np.ndarray, slots: np.ndarray, positions: np.ndarray) -> _Columns:
        orders, offsets = [], []
        for values in _band_values(hashes).T:
            orders.append(np.argsort(values, kind="stable").astype(np.int32))
            counts = np.bincount(values, minlength=1 << BAND_BITS)
            offsets.append(np.concatenate([[0], np.cumsum(counts)]))
        return cls(hashes, slots, positions, tuple(orders), tuple(offsets))


def _band_values(hashes: np.ndarray) -> np.ndarray:
    """(n, BANDS) band values of uint64 hashes, as int64 for indexing."""
    values: np.ndarray = ((hashes[:, None] >> _BAND_SHIFTS[None, :]) & _BAND_MASK).astype(np.int64)
    return values


def _flip_masks(bits: int) -> np.ndarray:
    """Every 16-bit mask with at most `bits` ones: XORed with a band value, its neighbours."""
    masks = [sum(1 << i for i in chosen) for k in range(bits + 1) for chosen in combinations(range(BAND_BITS), k)]
    return np.array(masks, dtype=np.int64)


class HashIndex:
    """Fingerprints of blocked reels, looked up by an upload's fingerprint."""

    def __init__(
        self,
        *,
        radius: int = 10,
        min_windows: int = 3,
        min_share: float = 0.5,
        offset_tolerance_s: float = 0.25,
        sample_fps: float = SAMPLE_FPS,
    ) -> None:
        self.radius = radius
        self.min_windows = min_windows
        self.min_share = min_share
        self.offset_tolerance_s = offset_tolerance_s
        self.sample_fps = sample_fps
        self._reel_ids: list[str] = []
        self._slot_of: dict[str, int] = {}
        self._spans: list[tuple[int, int]] = []  # first and last indexed position per slot
        self._pending: list[tuple[int, Fingerprint]] = []
        self._removed: set[int] = set()
        self._columns = _Columns.build(*_empty_rows())
        self._masks = _flip_masks(radius // BANDS)

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, reel_id: object) -> bool:
        return reel_id in self._slot_of

    def reel_ids(self) -> list[str]:
        return list(self._slot_of)

    def add(self, reel_id: str, fingerprint: Fingerprint) -> None:
        """Index `reel_id`'s fingerprint, replacing what was indexed for it before.

        A fingerprint without informative windows (a black or flat video) cannot be matched
        and is not indexed.
        """
        if fingerprint.sample_fps != self.sample_fps:
            raise ValueError(f"fingerprint sampled at {fingerprint.sample_fps:g} fps, index at {self.sample_fps:g}")
        self.remove(reel_id)
        if not len(fingerprint):
            return
        slot = len(self._reel_ids)
        self._reel_ids.append(reel_id)
        self._slot_of[reel_id] = slot
        self._spans.append((int(fingerprint.positions[0]), int(fingerprint.positions[-1])))
        self._pending.append((slot, fingerprint))

    def remove(self, reel_id: str) -> bool:
        """Stop matching `reel_id`; False when it was not indexed."""
        slot = self._slot_of.pop(reel_id, None)
        if slot is None:
            return False
        self._removed.add(slot)
        return True

    def query(self, fingerprint: Fingerprint) -> list[Match]:
        """The indexed reels `fingerprint` copies, best first."""
        if fingerprint.sample_fps != self.sample_fps:
            raise ValueError(f"fingerprint sampled at {fingerprint.sample_fps:g} fps, index at {self.sample_fps:g}")
        windows = fingerprint.every(QUERY_STEP_S)
        columns = self._compacted()
        if len(windows) < self.min_windows or not len(columns.hashes):
            return []
        query_rows, index_rows = self._near(columns, windows.hashes)
        if not len(index_rows):
            return []
        slots = columns.slots[index_rows]
        offsets = columns.positions[index_rows] - windows.positions[query_rows]
        order = np.lexsort((query_rows, offsets, slots))
        slots, offsets, query_rows = slots[order], offsets[order], query_rows[order]
        candidates, firsts = np.unique(slots, return_index=True)
        matches = []
        for slot, first, end in zip(candidates, firsts, [*firsts[1:], len(slots)], strict=True):
            if len(np.unique(query_rows[first:end])) < self.min_windows:
                continue
            aligned, offset = self._best_alignment(offsets[first:end], query_rows[first:end])
            span_first, span_last = self._spans[slot]
            shifted = windows.positions + offset
            overlapping = int(
                np.count_nonzero((shifted >= span_first - self._tolerance) & (shifted <= span_last + self._tolerance))
            )
            score = aligned / max(overlapping, aligned)
            if aligned >= self.min_windows and score >= self.min_share:
                matches.append(Match(self._reel_ids[slot], round(float(score), 3), aligned, offset / self.sample_fps))
        return sorted(matches, key=lambda match: (-match.score, -match.windows, match.reel_id))

    def best_match(self, fingerprint: Fingerprint) -> Match | None:
        matches = self.query(fingerprint)
        return matches[0] if matches else None

    def to_bytes(self) -> bytes:
        """The index as bytes (an .npz archive, no pickles), for a cache to hold."""
        columns = self._compacted()
        settings = {
            "version": FORMAT_VERSION,
            "radius": self.radius,
            "min_windows": self.min_windows,
            "min_share": self.min_share,
            "offset_tolerance_s": self.offset_tolerance_s,
            "sample_fps": self.sample_fps,
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            settings=np.frombuffer(json.dumps(settings).encode(), dtype=np.uint8),
            reel_ids=np.array(self._reel_ids, dtype=np.str_),
            spans=np.array(self._spans, dtype=np.int32).reshape(-1, 2),
            hashes=columns.hashes,
            slots=columns.slots,
            positions=columns.positions,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> HashIndex:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            settings = json.loads(archive["settings"].tobytes())
            if settings.pop("version") != FORMAT_VERSION:
                raise ValueError("the index was written in another format version")
            index = cls(**settings)
            index._reel_ids = [str(reel_id) for reel_id in archive["reel_ids"]]
            index._slot_of = {reel_id: slot for slot, reel_id in enumerate(index._reel_ids)}
            index._spans = [(int(first), int(last)) for first, last in archive["spans"]]
            index._columns = _Columns.build(archive["hashes"], archive["slots"], archive["positions"])
        return index

    @property
    def _tolerance(self) -> int:
        return round(self.offset_tolerance_s * self.sample_fps)

    def _compacted(self) -> _Columns:
        """The columns with pending adds and removes folded in; slots renumbered densely."""
        if not self._pending and not self._removed:
            return self._columns
        old = self._columns
        hashes = np.concatenate([old.hashes, *(fp.hashes for _, fp in self._pending)])
        slots = np.concatenate([old.slots, *(np.full(len(fp), slot, dtype=np.int32) for slot, fp in self._pending)])
        positions = np.concatenate([old.positions, *(fp.positions for _, fp in self._pending)])
        live = sorted(set(range(len(self._reel_ids))) - self._removed)
        renumber = np.full(len(self._reel_ids), -1, dtype=np.int32)
        renumber[live] = np.arange(len(live), dtype=np.int32)
        kept = renumber[slots] >= 0
        self._reel_ids = [self._reel_ids[slot] for slot in live]
        self._slot_of = {reel_id: slot for slot, reel_id in enumerate(self._reel_ids)}
        self._spans = [self._spans[slot] for slot in live]
        self._pending.clear()
        self._removed.clear()
        self._columns = _Columns.build(hashes[kept], renumber[slots[kept]], positions[kept])
        return self._columns

    def _near(self, columns: _Columns, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query row, index row) pairs whose hashes are within `radius` bits."""
        found_query, found_index = [], []
        probes_per_hash = len(self._masks)
        for band, values in enumerate(_band_values(hashes).T):
            probes = (values[:, None] ^ self._masks[None, :]).ravel()
            starts = columns.band_offsets[band][probes]
            counts = columns.band_offsets[band][probes + 1] - starts
            # Each probe's run of rows in the band's order, laid end to end.
            run_starts = np.repeat(starts - (np.cumsum(counts) - counts), counts)
            found_index.append(columns.band_orders[band][run_starts + np.arange(counts.sum())])
            found_query.append(np.repeat(np.arange(len(hashes)).repeat(probes_per_hash), counts))
        query_rows, index_rows = np.concatenate(found_query), np.concatenate(found_index)
        # A pair near on several bands is found once per band.
        pairs = np.unique(query_rows.astype(np.int64) * len(columns.hashes) + index_rows)
        query_rows, index_rows = np.divmod(pairs, len(columns.hashes))
        near = hamming(hashes[query_rows], columns.hashes[index_rows]) <= self.radius
        return query_rows[near], index_rows[near]

    def _best_alignment(self, offsets: np.ndarray, query_rows: np.ndarray) -> tuple[int, int]:
        """The offset most query windows agree on, give or take the tolerance (ties: the one
        most windows hit exactly), and how many agree. `offsets` is sorted."""
        best = (0, 0, 0)
        for centre in np.unique(offsets):
            low = np.searchsorted(offsets, centre - self._tolerance)
            high = np.searchsorted(offsets, centre + self._tolerance, "right")
            agreeing = len(np.unique(query_rows[low:high]))
            exact = int(np.count_nonzero(offsets[low:high] == centre))
            best = max(best, (agreeing, exact, -int(centre)))
        agreeing, _, negated_centre = best
        return agreeing, -negated_centre


def _empty_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
