"""The 90 s limit and a reel's length are what FFmpeg decodes, not what the container claims:
a 120 s upload whose header says 10 s ends FAILED with the reason (the transcode stops just past
the limit), and a file cut short after its header keeps the length it really has."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from reels.media.ladder import parse_media_playlist
from tests.conftest import Api
from tests.pipeline.helpers import fetch, rendition_playlists, upload, wait_for
from tests.security.conftest import Answer
from tests.security.media_clips import cut_short_clip, lying_long_clip


@pytest.fixture(scope="module")
def lying_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lying_long_clip(tmp_path_factory.mktemp("lying") / "lying.mp4", real_s=120, claimed_s=10)


@pytest.fixture(scope="module")
def cut_short(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut_short_clip(tmp_path_factory.mktemp("cut") / "cut.mp4", full_s=6)


def test_a_long_clip_whose_header_claims_10_s_fails_with_the_reason(
    api: Api, healthy: Callable[[Iterable[Answer]], None], lying_clip: Path
) -> None:
    token, _ = api.register("liar")
    reel_id = upload(api, token, lying_clip)
    failed = wait_for(api, reel_id, token, {"FAILED", "READY"})
    assert failed["status"] == "FAILED", failed
    assert failed["statusReason"] == "video runs past the limit of 90 s (its header claims 10.0 s)"
    assert failed["playback"] is None
    healthy([failed])


def test_a_cut_short_file_keeps_the_length_it_has(
    api: Api, healthy: Callable[[Iterable[Answer]], None], cut_short: Path
) -> None:
    token, _ = api.register("cutter")
    reel_id = upload(api, token, cut_short)
    ready = wait_for(api, reel_id, token, {"READY", "FAILED"})
    assert ready["status"] == "READY", ready
    # The header promised 6 s; about half of the samples are there.
    assert 1_000 < ready["durationMs"] < 4_500, ready
    for _, playlist in rendition_playlists(api, ready["playback"]["hlsUrl"]):
        played_ms = 1000 * sum(duration for duration, _ in parse_media_playlist(playlist)[1])
        assert abs(played_ms - ready["durationMs"]) <= 1, (played_ms, ready["durationMs"])
    # Taken before the ladder from the middle the header claims, or after it from what plays.
    assert fetch(api, ready["thumbnailUrl"]).startswith(b"\xff\xd8\xff"), ready
    healthy([ready])
