"""Perceptual hashes of sampled frames: 64 bits per frame that survive re-encoding and rescaling.

The pHash of a 32×32 grayscale frame: its 2-D DCT, the 8×8 lowest frequencies, one bit per
coefficient saying whether it lies above their median. Low frequencies are what a re-encode at a
high CRF or a rescale keeps; a brightness shift moves only the DC coefficient, and comparing with
the median makes the bits independent of contrast. Two frames look alike when their hashes
differ in few bits (a small Hamming distance).

A video's fingerprint hashes one-second windows, each the mean of the frames sampled in it
(`SAMPLE_FPS` a second), starting every `STEP_S`. Averaging over a second makes a hash change
slowly with time, and the dense starts leave any window of a trimmed copy, whatever the trim,
within `STEP_S / 2` of one of the original's: a copy trimmed by 1.37 s still lines up. Sampled
once a second without averaging, a moving clip shifted by half a second differs in as many bits
as an unrelated one.

Windows with next to no structure (black, a flat colour, a fade) hash to noise and would match
each other across unrelated videos, so they are left out of fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

FRAME_SIZE = 32
SAMPLE_FPS = 8.0
WINDOW_S = 1.0
STEP_S = 0.25
LOW_FREQUENCIES = 8  # an 8×8 block: 64 bits
HASH_BITS = LOW_FREQUENCIES * LOW_FREQUENCIES
# Windows whose pixels vary less than this (standard deviation, 0–255 gray levels) carry no
# pattern worth matching.
FLAT_FRAME_STD = 4.0

_BIT_WEIGHTS = np.left_shift(np.uint64(1), np.arange(HASH_BITS - 1, -1, -1, dtype=np.uint64))
_POPCOUNT_8 = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.uint8)


@cache
def _dct_matrix(size: int) -> np.ndarray:
    """The orthonormal DCT-II basis: `D @ x` transforms the columns of `x`."""
    n = np.arange(size)
    basis: np.ndarray = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / (2 * size)) * np.sqrt(2 / size)
    basis[0] /= np.sqrt(2)
    return basis


def phash_frames(frames: np.ndarray) -> np.ndarray:
    """One 64-bit pHash (uint64) per frame of `frames`, grayscale shaped (n, 32, 32)."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.shape[1:] != (FRAME_SIZE, FRAME_SIZE):
        raise ValueError(f"expected grayscale frames shaped (n, {FRAME_SIZE}, {FRAME_SIZE}), got {frames.shape}")
    basis = _dct_matrix(FRAME_SIZE)[:LOW_FREQUENCIES]
    low = basis @ frames.astype(np.float64) @ basis.T  # (n, 8, 8): only the coefficients kept
    coefficients = low.reshape(len(frames), HASH_BITS)
    bits = coefficients > np.median(coefficients, axis=1, keepdims=True)
    hashes: np.ndarray = (bits.astype(np.uint64) * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint64)
    return hashes


def informative(frames: np.ndarray) -> np.ndarray:
    """A boolean per frame: True when it has enough structure for its hash to mean something."""
    frames = np.asarray(frames)
    structured: np.ndarray = frames.std(axis=tuple(range(1, frames.ndim))) >= FLAT_FRAME_STD
    return structured


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bits that differ between uint64 hashes, element-wise (broadcasting like numpy)."""
    differing = np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))
    as_bytes = np.asarray(differing)[..., None].view(np.uint8)
    distances: np.ndarray = _POPCOUNT_8[as_bytes].sum(axis=-1, dtype=np.int64)
    return distances


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """The hashes of a video's informative windows, with the sample each window starts at.

    `positions[i]` is the index, among the frames sampled at `sample_fps`, of the first frame of
    the window `hashes[i]` hashes; positions increase. `frames` counts every sampled frame.
    """

    hashes: np.ndarray  # uint64
    positions: np.ndarray  # int32
    frames: int
    sample_fps: float

    def __len__(self) -> int:
        return len(self.hashes)

    def every(self, seconds: float) -> Fingerprint:
        """Only the windows starting on a multiple of `seconds` (a whole number of samples)."""
        stride = round(seconds * self.sample_fps)
        keep = self.positions % stride == 0
        return Fingerprint(self.hashes[keep], self.positions[keep], self.frames, self.sample_fps)


def fingerprint(frames: np.ndarray, *, sample_fps: float = SAMPLE_FPS) -> Fingerprint:
    """The fingerprint of a video from its 32×32 grayscale frames sampled `sample_fps` a second.

    Videos shorter than one window (`WINDOW_S`) have no windows: an empty fingerprint.
    """
    frames = np.asarray(frames)
    window = max(1, round(WINDOW_S * sample_fps))
    step = max(1, round(STEP_S * sample_fps))
    starts = np.arange(0, len(frames) - window + 1, step)
    # Window means from running sums: one pass over the frames whatever the overlap.
    running = np.concatenate([np.zeros((1, *frames.shape[1:])), np.cumsum(frames, axis=0, dtype=np.float64)])
    means = (running[starts + window] - running[starts]) / window
    keep = informative(means)
    return Fingerprint(
        hashes=phash_frames(means[keep]),
        positions=starts[keep].astype(np.int32),
        frames=len(frames),
        sample_fps=sample_fps,
    )
