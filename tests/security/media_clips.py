"""Clips that lie: an MP4 whose header claims another duration than its samples hold, and a
file cut short after a header that promises all of it."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from tests.media.clips import H264, make, sine, testsrc

_CONTAINER_BOXES = {b"moov", b"trak", b"mdia"}


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size < 8:
            return
        yield kind, offset, offset + size
        offset += size


def claim_duration(data: bytearray, claimed_s: float) -> None:
    """Rewrite the movie (mvhd), track (tkhd) and media (mdhd) durations to `claimed_s`; the
    sample tables, which say what is really there, are left alone. Version-0 boxes only, as
    FFmpeg writes them for short files."""
    movie_timescale = 1000

    def rewrite(start: int, end: int) -> None:
        nonlocal movie_timescale
        for kind, box, box_end in _boxes(data, start, end):
            if kind in _CONTAINER_BOXES:
                rewrite(box + 8, box_end)
                continue
            if kind not in (b"mvhd", b"tkhd", b"mdhd"):
                continue
            assert data[box + 8] == 0, f"{kind!r} is not a version-0 box"
            if kind == b"tkhd":  # duration after creation, modification, track id and a reserved word
                struct.pack_into(">I", data, box + 28, round(claimed_s * movie_timescale))
                continue
            (timescale,) = struct.unpack(">I", data[box + 20 : box + 24])
            if kind == b"mvhd":
                movie_timescale = timescale
            struct.pack_into(">I", data, box + 24, round(claimed_s * timescale))

    rewrite(0, len(data))


def lying_long_clip(path: Path, *, real_s: float, claimed_s: float) -> Path:
    """A `real_s` clip (tiny, 2 fps, with sound) whose header says `claimed_s`. Without an edit
    list, which FFmpeg would honour as the true length."""
    raw = path.with_suffix(".raw.mp4")
    make(*testsrc("64x112", 2, real_s), *sine(440, real_s), *H264, "-c:a", "aac", "-shortest",
         "-use_editlist", "0", str(raw))  # fmt: skip
    data = bytearray(raw.read_bytes())
    claim_duration(data, claimed_s)
    path.write_bytes(data)
    return path


def cut_short_clip(path: Path, *, full_s: float) -> Path:
    """The first half of a `full_s` clip whose index (moov) comes first: the header promises
    `full_s`, the samples stop about half-way."""
    whole = path.with_suffix(".whole.mp4")
    make(*testsrc("180x320", 30, full_s), *sine(440, full_s), *H264, "-c:a", "aac", "-shortest",
         "-movflags", "+faststart", str(whole))  # fmt: skip
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
