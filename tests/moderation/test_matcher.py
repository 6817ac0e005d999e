"""The index of blocked reels: copies of an indexed clip match it, other clips match nothing."""

from __future__ import annotations

import numpy as np
import pytest

from reels.moderation import SAMPLE_FPS, Fingerprint, HashIndex

COPIES = ("original", "reencoded", "scaled", "trimmed")
OTHERS = ("mandelbrot", "life", "boxes")


@pytest.fixture
def index(fingerprints: dict[str, Fingerprint]) -> HashIndex:
    index = HashIndex()
    index.add("blocked-original", fingerprints["original"])
    for name in OTHERS:
        index.add(f"blocked-{name}", fingerprints[name])
    return index


@pytest.mark.parametrize("copy", COPIES)
def test_a_copy_matches_its_original_and_nothing_else(
    index: HashIndex, fingerprints: dict[str, Fingerprint], copy: str
) -> None:
    matches = index.query(fingerprints[copy])

    assert [match.reel_id for match in matches] == ["blocked-original"]
    assert matches[0].score >= 0.9
    assert matches[0].windows >= 3


def test_a_trimmed_copy_is_found_where_it_starts_in_the_original(
    index: HashIndex, fingerprints: dict[str, Fingerprint]
) -> None:
    match = index.best_match(fingerprints["trimmed"])

    assert match is not None
    assert match.offset_s == pytest.approx(1.3, abs=0.5)


def test_distinct_clips_do_not_match_each_other(fingerprints: dict[str, Fingerprint]) -> None:
    index = HashIndex()
    index.add("original", fingerprints["original"])
    for name in OTHERS:
        index.add(name, fingerprints[name])

    for name in ("original", *OTHERS):
        assert [match.reel_id for match in index.query(fingerprints[name])] == [name]


def test_a_removed_reel_no_longer_matches(index: HashIndex, fingerprints: dict[str, Fingerprint]) -> None:
    assert index.remove("blocked-original")

    assert index.query(fingerprints["reencoded"]) == []
    assert "blocked-original" not in index
    assert len(index) == len(OTHERS)
    assert not index.remove("blocked-original")
    assert [m.reel_id for m in index.query(fingerprints["life"])] == ["blocked-life"]


def test_adding_a_reel_again_replaces_its_fingerprint(index: HashIndex, fingerprints: dict[str, Fingerprint]) -> None:
    index.add("blocked-original", fingerprints["boxes"])

    assert index.query(fingerprints["reencoded"]) == []
    assert {m.reel_id for m in index.query(fingerprints["boxes"])} == {"blocked-original", "blocked-boxes"}


def test_the_index_round_trips_through_bytes(index: HashIndex, fingerprints: dict[str, Fingerprint]) -> None:
    index.remove("blocked-life")
    copy = HashIndex.from_bytes(index.to_bytes())

    assert sorted(copy.reel_ids()) == sorted(index.reel_ids())
    for name in (*COPIES, *OTHERS):
        assert copy.query(fingerprints[name]) == index.query(fingerprints[name])
    copy.add("blocked-life", fingerprints["life"])
    assert [m.reel_id for m in copy.query(fingerprints["life"])] == ["blocked-life"]


def test_settings_survive_the_round_trip() -> None:
    index = HashIndex(radius=6, min_windows=4, min_share=0.7, offset_tolerance_s=0.5)

    copy = HashIndex.from_bytes(index.to_bytes())

    assert (copy.radius, copy.min_windows, copy.min_share, copy.offset_tolerance_s) == (6, 4, 0.7, 0.5)


def test_a_flat_video_is_not_indexed_and_matches_nothing() -> None:
    flat = Fingerprint(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32), 40, SAMPLE_FPS)
    index = HashIndex()

    index.add("black", flat)

    assert "black" not in index
    assert index.query(flat) == []


def test_fingerprints_sampled_at_another_rate_are_refused(fingerprints: dict[str, Fingerprint]) -> None:
    other_rate = fingerprints["original"]
    other_rate = Fingerprint(other_rate.hashes, other_rate.positions, other_rate.frames, SAMPLE_FPS / 2)

    with pytest.raises(ValueError, match="fps"):
        HashIndex().add("x", other_rate)
    with pytest.raises(ValueError, match="fps"):
        HashIndex().query(other_rate)


def random_fingerprint(rng: np.random.Generator, seconds: int) -> Fingerprint:
    windows = seconds * 4
    hashes = rng.integers(0, np.iinfo(np.uint64).max, windows, dtype=np.uint64, endpoint=True)
    return Fingerprint(hashes, np.arange(0, 2 * windows, 2, dtype=np.int32), 2 * windows, SAMPLE_FPS)


def flip_bits(rng: np.random.Generator, hashes: np.ndarray, bits: int) -> np.ndarray:
    """Each hash with `bits` distinct random bits flipped."""
    masks = [sum(1 << int(b) for b in rng.choice(64, bits, replace=False)) for _ in hashes]
    return hashes ^ np.array(masks, dtype=np.uint64)


@pytest.mark.parametrize("bits", [0, 5, 10])
def test_the_band_tables_find_every_window_within_the_radius(bits: int) -> None:
    rng = np.random.default_rng(bits)
    index = HashIndex(radius=10)
    for reel in range(500):
        index.add(f"noise-{reel}", random_fingerprint(rng, 30))
    blocked = random_fingerprint(rng, 20)
    index.add("blocked", blocked)
    # Each window of the query lies `bits` away from the blocked reel's window 4 s in.
    query = blocked.every(1.0)
    query = Fingerprint(flip_bits(rng, query.hashes[4:], bits), query.positions[:-4], 16 * 8, SAMPLE_FPS)

    matches = index.query(query)

    assert [(m.reel_id, m.windows, m.offset_s) for m in matches] == [("blocked", 16, 4.0)]


def test_windows_just_outside_the_radius_do_not_match() -> None:
    rng = np.random.default_rng(7)
    index = HashIndex(radius=10)
    blocked = random_fingerprint(rng, 10)
    index.add("blocked", blocked)
    query = blocked.every(1.0)

    far = Fingerprint(flip_bits(rng, query.hashes, 11), query.positions, blocked.frames, SAMPLE_FPS)

    assert index.query(far) == []
