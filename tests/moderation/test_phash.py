"""Windowed pHash fingerprints: what changes a hash, what does not, and which windows are kept."""

from __future__ import annotations

import numpy as np

from reels.moderation import SAMPLE_FPS, fingerprint
from reels.moderation.phash import hamming, phash_frames


def textured(seed: int, frames: int = 1) -> np.ndarray:
    """Frames of random blobs (an 8×8 grid blown up), different per frame."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(30, 200, (frames, 8, 8))
    return np.kron(coarse, np.ones((4, 4))).astype(np.uint8)


def test_brightness_and_contrast_changes_keep_the_hash() -> None:
    frame = textured(1).astype(np.float64)

    shifted = np.clip(frame + 40, 0, 255)
    contrasted = np.clip((frame - 128) * 1.3 + 128, 0, 255)

    original = phash_frames(frame.astype(np.uint8))
    assert hamming(original, phash_frames(shifted.astype(np.uint8))).tolist() == [0]
    assert hamming(original, phash_frames(contrasted.astype(np.uint8))).tolist() == [0]


def test_different_pictures_hash_far_apart() -> None:
    hashes = phash_frames(textured(2, frames=20))

    distances = hamming(hashes[:, None], hashes[None, :])[np.triu_indices(20, k=1)]

    assert distances.min() > 10


def test_hamming_counts_differing_bits() -> None:
    assert hamming(np.uint64(0b1011), np.uint64(0b0001)).tolist() == 2
    assert hamming(np.uint64(2**64 - 1), np.uint64(0)).tolist() == 64


def test_windows_start_every_quarter_second_and_flat_ones_are_left_out() -> None:
    black = np.zeros((16, 32, 32), dtype=np.uint8)
    moving = np.repeat(textured(3, frames=4), 4, axis=0)  # 2 s of four pictures, 0.5 s each
    frames = np.concatenate([black, moving])  # 4 s at 8 frames a second

    result = fingerprint(frames, sample_fps=SAMPLE_FPS)

    # Windows of 8 frames every 2: those starting in the black first 1.5 s overlap too little
    # texture to pass; from 2 s every window is informative.
    assert result.frames == 32
    assert result.positions.tolist()[-5:] == [16, 18, 20, 22, 24]
    assert (np.diff(result.positions) % 2 == 0).all()
    assert result.positions[0] > 0
    assert result.every(1.0).positions.tolist() == [p for p in result.positions.tolist() if p % 8 == 0]


def test_a_clip_shorter_than_a_window_has_no_fingerprint() -> None:
    result = fingerprint(textured(4, frames=7))

    assert len(result) == 0 and result.frames == 7
