"""Ladder planning and playlist arithmetic: pure functions, no FFmpeg."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reels.media.ladder import (
    avc_codec_string,
    output_fps,
    parse_media_playlist,
    peak_bandwidth,
    plan_ladder,
    scaled_size,
)
from tests.media.clips import PORTRAIT_1080P


def test_a_1080p_portrait_source_gets_all_four_rungs_with_peertube_bitrates() -> None:
    rungs = plan_ladder(PORTRAIT_1080P, Fraction(30))

    assert [(rung.width, rung.height) for rung in rungs] == [(240, 426), (360, 640), (480, 852), (720, 1280)]
    assert [rung.video_maxrate for rung in rungs] == [
        round(0.17 * 240 * 426 * 30),
        round(0.15 * 360 * 640 * 30),
        round(0.12 * 480 * 852 * 30),
        round(0.11 * 720 * 1280 * 30),
    ]
    assert [rung.audio_bitrate for rung in rungs] == [64_000, 96_000, 128_000, 128_000]


def test_a_360_wide_source_is_never_upscaled() -> None:
    facts = dataclasses.replace(PORTRAIT_1080P, width=360, height=640)

    assert [(rung.width, rung.height) for rung in plan_ladder(facts, Fraction(30))] == [(240, 426), (360, 640)]


def test_a_landscape_source_is_scaled_by_its_height() -> None:
    facts = dataclasses.replace(PORTRAIT_1080P, width=1280, height=720)

    assert [(rung.width, rung.height) for rung in plan_ladder(facts, Fraction(30))] == [
        (426, 240), (640, 360), (852, 480), (1280, 720),
    ]  # fmt: skip


def test_a_source_smaller_than_the_lowest_rung_keeps_its_own_size() -> None:
    facts = dataclasses.replace(PORTRAIT_1080P, width=64, height=113)

    assert [(rung.width, rung.height) for rung in plan_ladder(facts, Fraction(30))] == [(64, 112)]


def test_bitrates_are_capped_at_1_3_times_the_source_bitrate() -> None:
    facts = dataclasses.replace(PORTRAIT_1080P, bitrate=1_000_000)

    maxrates = [rung.video_maxrate for rung in plan_ladder(facts, Fraction(30))]

    assert maxrates == [round(0.17 * 240 * 426 * 30), round(0.15 * 360 * 640 * 30), 1_300_000, 1_300_000]


@given(
    width=st.integers(min_value=2, max_value=4096),
    height=st.integers(min_value=2, max_value=4096),
    short_side=st.sampled_from([240, 360, 480, 720]),
)
def test_scaled_sizes_are_even_never_upscaled_and_keep_the_aspect(width: int, height: int, short_side: int) -> None:
    scaled_width, scaled_height = scaled_size(width, height, short_side)

    assert scaled_width % 2 == 0 and scaled_height % 2 == 0
    assert min(scaled_width, scaled_height) <= max(2, min(short_side, width, height))
    assert (scaled_width <= width or scaled_width == 2) and (scaled_height <= height or scaled_height == 2)
    if min(scaled_width, scaled_height) >= 100:
        assert scaled_width / scaled_height == pytest.approx(width / height, rel=0.03)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (30.0, Fraction(30)),
        (24.0, Fraction(24)),
        (30000 / 1001, Fraction(30000, 1001)),
        (60.0, Fraction(30)),
        (60000 / 1001, Fraction(30000, 1001)),
        (50.0, Fraction(25)),
        (120.0, Fraction(30)),
        (0.0, Fraction(30)),
    ],
)
def test_output_frame_rate_divides_fast_sources_evenly_below_30(source: float, expected: Fraction) -> None:
    assert output_fps(source) == expected


def test_peak_bandwidth_is_the_fastest_run_of_segments_near_the_target_duration() -> None:
    # 2 s segments at 1, 3 and 1 Mb/s, then a 0.2 s tail that alone would look like 10 Mb/s.
    sizes = [250_000, 750_000, 250_000, 250_000]
    durations = [2.0, 2.0, 2.0, 0.2]

    assert peak_bandwidth(sizes, durations) == 3_000_000


def test_peak_bandwidth_of_a_clip_shorter_than_half_a_segment_is_its_average() -> None:
    assert peak_bandwidth([10_000], [0.5]) == 160_000


def test_media_playlist_parsing_reads_the_init_segment_and_segment_durations() -> None:
    text = (
        '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="init_0.mp4"\n'
        "#EXTINF:2.000000,\nseg_000.m4s\n#EXTINF:1.466667,\nseg_001.m4s\n#EXT-X-ENDLIST\n"
    )

    assert parse_media_playlist(text) == ("init_0.mp4", [(2.0, "seg_000.m4s"), (1.466667, "seg_001.m4s")])


def test_codec_string_comes_from_the_avcc_box() -> None:
    init = b"\x00\x00\x00\x2f" + b"avcC" + bytes([1, 0x64, 0x00, 0x1F, 0xFF])

    assert avc_codec_string(init) == "avc1.64001f"
