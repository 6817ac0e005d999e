"""`process_source` on real clips: the ladder, its playlists, thumbnail, preview and sound."""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path

import av
import numpy as np
import pytest

from reels.media import MediaRejected, ProcessedMedia, TranscodeError, process_source
from reels.media.artifacts import THUMBNAIL, make_thumbnail
from reels.media.frames import sample_frames
from reels.media.probe import PROBE_TIMEOUT_S, probe
from tests.media.clips import (
    SAMPLINGS,
    SOUND_TONE_HZ,
    SOURCE_TONE_HZ,
    Clips,
    dominant_frequency_hz,
    duration_s,
    open_bytes,
)

Processed = tuple[ProcessedMedia, Path]


def segment_timeline(playlist: Path) -> list[float]:
    return [float(value) for value in re.findall(r"^#EXTINF:([0-9.]+),", playlist.read_text(), re.MULTILINE)]


def decode_segments(out_dir: Path, media: ProcessedMedia, with_audio: bool) -> list[list[float]]:
    """Decode every segment of every rung on its own (init + segment), as a player switching
    rungs would; return each rung's first video timestamp per segment."""
    starts = []
    for rendition in media.renditions:
        init = (out_dir / rendition.init_path).read_bytes()
        rung_starts = []
        for segment in rendition.segment_paths:
            with open_bytes(init + (out_dir / segment).read_bytes()) as container:
                assert bool(container.streams.audio) == with_audio
                video = container.streams.video[0]
                frames = list(container.decode(video))
                assert (video.width, video.height) == (rendition.width, rendition.height)
            assert frames, f"{segment} has no video frames"
            assert frames[0].key_frame, f"{segment} does not start with a keyframe"
            rung_starts.append(round(float(frames[0].time), 3))
        starts.append(rung_starts)
    return starts


def master_attributes(out_dir: Path, media: ProcessedMedia) -> list[dict[str, str]]:
    lines = (out_dir / media.master_playlist_path).read_text().splitlines()
    variants = []
    for line, uri in itertools.pairwise(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.removeprefix("#EXT-X-STREAM-INF:")))
            variants.append({**attributes, "URI": uri})
    return variants


def test_the_ladder_has_one_rung_per_standard_size_below_the_source(processed_with_audio: Processed) -> None:
    media, out_dir = processed_with_audio

    assert [(r.width, r.height) for r in media.renditions] == [(240, 426), (360, 640), (480, 852)]
    assert (media.video_codec, media.audio_codec) == ("h264", "aac")
    assert all(r.codecs.startswith("avc1.64") and r.codecs.endswith(",mp4a.40.2") for r in media.renditions)


def test_every_segment_of_every_rung_decodes_and_keyframes_line_up(processed_with_audio: Processed) -> None:
    media, out_dir = processed_with_audio

    starts = decode_segments(out_dir, media, with_audio=True)

    assert len(starts[0]) == 3
    assert all(rung == starts[0] for rung in starts)


def test_segment_timelines_match_across_rungs(processed_with_audio: Processed) -> None:
    media, out_dir = processed_with_audio

    timelines = [segment_timeline(out_dir / r.playlist_path) for r in media.renditions]

    assert all(timeline == timelines[0] for timeline in timelines)
    assert all(duration == pytest.approx(2.0, abs=0.05) for duration in timelines[0][:-1])
    assert sum(timelines[0]) == pytest.approx(6.0, abs=0.1)


def test_the_master_playlist_lists_every_attribute_players_need(processed_with_audio: Processed) -> None:
    media, out_dir = processed_with_audio

    variants = master_attributes(out_dir, media)

    assert len(variants) == len(media.renditions)
    for variant, rendition in zip(variants, media.renditions, strict=True):
        sizes = [(out_dir / segment).stat().st_size for segment in rendition.segment_paths]
        average = 8 * sum(sizes) / sum(rendition.segment_durations)
        assert variant["RESOLUTION"] == f"{rendition.width}x{rendition.height}"
        assert variant["CODECS"] == f'"{rendition.codecs}"'
        assert float(variant["FRAME-RATE"]) == pytest.approx(30.0)
        assert int(variant["AVERAGE-BANDWIDTH"]) == pytest.approx(average, abs=1)
        assert int(variant["BANDWIDTH"]) >= int(variant["AVERAGE-BANDWIDTH"])
        assert (out_dir / "hls" / variant["URI"]) == out_dir / rendition.playlist_path
    bandwidths = [int(variant["BANDWIDTH"]) for variant in variants]
    assert bandwidths == sorted(bandwidths), "lowest rung first, for a fast start"


def test_the_startup_segment_is_the_lowest_rungs_first(processed_with_audio: Processed) -> None:
    media, out_dir = processed_with_audio

    lowest = media.renditions[0]
    assert (media.startup_init_path, media.startup_segment_path) == (lowest.init_path, lowest.segment_paths[0])
    with open_bytes(
        (out_dir / media.startup_init_path).read_bytes() + (out_dir / media.startup_segment_path).read_bytes()
    ) as container:
        assert next(container.decode(video=0)).height == 426


def test_the_thumbnail_is_a_frame_from_the_middle_not_the_first(clips: Clips, processed_with_audio: Processed) -> None:
    media, out_dir = processed_with_audio
    with av.open(str(out_dir / media.thumbnail_path)) as container:
        thumbnail = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(np.int16)
    assert thumbnail.shape == (960, 540, 3)  # 720 short side, but never above the source's 540

    with av.open(str(clips.with_audio)) as container:
        differences = [
            (float(np.abs(frame.to_ndarray(format="rgb24").astype(np.int16) - thumbnail).mean()), float(frame.time))
            for frame in container.decode(video=0)
        ]
    _, closest_time = min(differences)

    assert 2.9 <= closest_time <= 5.1
    assert differences[0][0] > 2 * min(differences)[0]


def test_the_preview_is_three_muted_seconds_at_360p_with_the_index_first(processed_with_audio: Processed) -> None:
    media, out_dir = processed_with_audio
    preview = out_dir / media.preview_path

    with av.open(str(preview)) as container:
        assert not container.streams.audio
        video = container.streams.video[0]
        assert (video.width, video.height) == (360, 640)
    assert duration_s(preview, "video") == pytest.approx(3.0, abs=0.1)
    data = preview.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "moov first, so playback starts before the download ends"


def test_the_uploads_own_sound_is_extracted(processed_with_audio: Processed) -> None:
    media, out_dir = processed_with_audio

    assert media.audio_path == "audio.m4a"
    sound = out_dir / media.audio_path
    with av.open(str(sound)) as container:
        assert not container.streams.video
        assert container.streams.audio[0].codec_context.name == "aac"
    assert duration_s(sound, "audio") == pytest.approx(6.0, abs=0.1)
    assert dominant_frequency_hz(sound) == pytest.approx(SOURCE_TONE_HZ, abs=5)


async def test_the_ladders_samples_are_the_frames_a_decode_of_their_own_would_give(
    clips: Clips, processed_with_audio: Processed
) -> None:
    media, _ = processed_with_audio

    assert [frames.shape for frames in media.samples] == [(48, 32, 32), (6, 48, 64, 3)]
    for sampling, frames in zip(SAMPLINGS, media.samples, strict=True):
        alone = await sample_frames(
            clips.with_audio,
            fps=sampling.fps,
            width=sampling.width,
            height=sampling.height,
            pixel_format=sampling.pixel_format,
        )
        assert np.array_equal(frames, alone)


def test_a_silent_source_yields_silent_renditions_and_no_sound(processed_silent: Processed) -> None:
    media, out_dir = processed_silent

    assert [(r.width, r.height) for r in media.renditions] == [(240, 426), (360, 640)]
    assert all("mp4a" not in r.codecs and r.audio_bitrate is None for r in media.renditions)
    assert (media.audio_path, media.audio_codec) == (None, None)
    decode_segments(out_dir, media, with_audio=False)


def test_a_rerun_leaves_nothing_of_an_earlier_run(processed_silent: Processed) -> None:
    media, out_dir = processed_silent

    assert sorted(path.name for path in (out_dir / "hls").iterdir()) == ["master.m3u8", "v0", "v1"]
    assert not (out_dir / "audio.m4a").exists()


def test_a_rotated_phone_video_is_transcoded_as_displayed(processed_rotated: Processed) -> None:
    media, out_dir = processed_rotated

    assert [(r.width, r.height) for r in media.renditions] == [(426, 240), (640, 360)]
    with av.open(str(out_dir / media.thumbnail_path)) as container:
        thumbnail = container.streams.video[0]
        assert (thumbnail.width, thumbnail.height) == (640, 360)
    decode_segments(out_dir, media, with_audio=False)


def test_replace_audio_puts_the_chosen_sound_in_every_rung_trimmed_to_the_video(processed_replaced: Processed) -> None:
    media, out_dir = processed_replaced

    assert media.audio_path is None
    assert not (out_dir / "audio.m4a").exists()
    for rendition in media.renditions:
        playlist = out_dir / rendition.playlist_path
        assert dominant_frequency_hz(playlist) == pytest.approx(SOUND_TONE_HZ, abs=5)
        assert duration_s(playlist, "audio") == pytest.approx(6.0, abs=0.1)
    decode_segments(out_dir, media, with_audio=True)


async def test_a_sound_without_audio_is_rejected(clips: Clips, tmp_path: Path) -> None:
    with pytest.raises(MediaRejected, match="the chosen sound has no audio stream"):
        await process_source(clips.silent, tmp_path, replace_audio=clips.silent)


async def test_running_out_of_time_is_a_transcode_error(clips: Clips, tmp_path: Path) -> None:
    with pytest.raises(TranscodeError, match="longer than"):
        await process_source(clips.with_audio, tmp_path, timeout_s=0.05)


async def test_no_early_thumbnail_where_the_header_claims_more_than_plays(clips: Clips, tmp_path: Path) -> None:
    """The early thumbnail seeks to the middle the header claims; nothing plays there in a file
    cut short, and the pipeline then makes the thumbnail after the ladder."""
    facts = await probe(clips.silent, timeout_s=PROBE_TIMEOUT_S)
    claimed = dataclasses.replace(facts, duration_s=facts.duration_s * 10)
    assert not await make_thumbnail(clips.silent, tmp_path, claimed, timeout_s=60)
    assert not (tmp_path / THUMBNAIL).exists()
    assert await make_thumbnail(clips.silent, tmp_path, facts, timeout_s=60)
    assert (tmp_path / THUMBNAIL).read_bytes().startswith(b"\xff\xd8\xff")
