"""The HLS ladder: every rendition of a reel, its preview and its sampled frames from ONE FFmpeg
process, so the source is decoded once.

The decode feeds `split`; each rung's branch is scaled by its short side and encoded with the same
frame rate, GOP and B-frame settings, and keyframes forced every 2 s, so segment boundaries
line up on every rung and players can switch between them at any segment. One more branch is
the muted preview (the first seconds at 360p), and the frame samplings the automated checks
need (`reels.media.frames.FrameSampling`) branch off the decoded frames before the frame-rate
change, so they are exactly what `sample_frames` would read from the file.
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg
import numpy as np

from reels.media.errors import TranscodeError
from reels.media.frames import FrameSampling
from reels.media.probe import UNTRUSTED_INPUT_OPTIONS, ProbeFacts
from reels.media.runner import ffmpeg_command, run_ffmpeg

HLS_DIR = "hls"
MASTER_PLAYLIST = "master.m3u8"
PREVIEW = "preview.mp4"
PREVIEW_S = 3.0
PREVIEW_SHORT_SIDE = 360
PREVIEW_CRF = 28
SHORT_SIDES = (240, 360, 480, 720)
# PeerTube's average bits per pixel per rung; the bitrate is bpp × width × height × fps.
BITS_PER_PIXEL = {240: 0.17, 360: 0.15, 480: 0.12, 720: 0.11}
AUDIO_BITRATES = {240: 64_000, 360: 96_000, 480: 128_000, 720: 128_000}
# Re-encoding cannot add detail: never spend much more than the upload itself did.
SOURCE_BITRATE_CAP = 1.3
# Short-video sources are phone clips; 30 fps halves the encode work and bitrate of 60 fps
# sources at no visible cost on a phone screen. Every rung uses the same rate (GOP alignment).
MAX_FPS = 30
DEFAULT_FPS = Fraction(30)
SEGMENT_S = 2
CRF = 23
PRESET = "veryfast"
B_FRAMES = 3
# One rate for every output: players and later audio reuse never meet a rate change.
AUDIO_SAMPLE_RATE = 48_000
AAC_LC_CODEC = "mp4a.40.2"


@dataclass(frozen=True)
class Rung:
    """One planned rendition."""

    width: int
    height: int
    video_maxrate: int
    audio_bitrate: int


@dataclass(frozen=True)
class Rendition:
    """One rendition as written. Paths are POSIX paths relative to the output directory."""

    width: int
    height: int
    frame_rate: float
    bandwidth: int
    average_bandwidth: int
    codecs: str
    video_maxrate: int
    audio_bitrate: int | None
    playlist_path: str
    init_path: str
    segment_paths: tuple[str, ...]
    segment_durations: tuple[float, ...]


@dataclass(frozen=True)
class Ladder:
    master_playlist_path: str
    renditions: tuple[Rendition, ...]
    preview_path: str
    samples: tuple[np.ndarray, ...]  # one per asked `FrameSampling`, in order

    @property
    def duration_s(self) -> float:
        """How long the transcoded video plays: what was decoded, not what the header claimed."""
        return sum(self.renditions[0].segment_durations)


def output_fps(source_fps: float) -> Fraction:
    """The constant frame rate of every output: the source's, divided down to ≤ 30 fps.

    Dividing by a whole number (60 → 30, 50 → 25, 120 → 30) drops frames evenly, without judder.
    """
    if source_fps <= 0:
        return DEFAULT_FPS
    rate = Fraction(source_fps).limit_denominator(1001)
    return rate / math.ceil(rate / MAX_FPS)


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Width and height with the short side at `short_side` (never upscaled), aspect kept, even."""
    source_short = min(width, height)
    target = min(short_side, source_short)
    long_side = max(width, height) * target / source_short
    short_px, long_px = _even(target), _even(long_side)
    return (short_px, long_px) if width <= height else (long_px, short_px)


def plan_ladder(facts: ProbeFacts, fps: Fraction) -> list[Rung]:
    """The rungs for this source: each standard short side it reaches, or its own size when smaller."""
    sides = [side for side in SHORT_SIDES if side <= facts.short_side] or [facts.short_side]
    rungs = []
    for side in sides:
        width, height = scaled_size(facts.width, facts.height, side)
        bits = _by_short_side(BITS_PER_PIXEL, side) * width * height * float(fps)
        if facts.bitrate:
            bits = min(bits, SOURCE_BITRATE_CAP * facts.bitrate)
        rungs.append(Rung(width, height, round(bits), int(_by_short_side(AUDIO_BITRATES, side))))
    return rungs


def ladder_command(
    source: Path,
    out_dir: Path,
    facts: ProbeFacts,
    rungs: list[Rung],
    fps: Fraction,
    replace_audio: Path | None = None,
    *,
    read_limit_s: float | None = None,
    samplings: Sequence[tuple[FrameSampling, Path]] = (),
) -> list[str]:
    """The FFmpeg argv writing all `rungs` as fMP4 HLS under `out_dir/hls/v<i>/`, the preview
    as `out_dir/preview.mp4`, and each of `samplings` to its path as raw pixels.

    With `read_limit_s`, FFmpeg stops reading the source after that many seconds, whatever its
    header says.
    With `replace_audio`, its sound (padded or trimmed to the video's length) replaces the
    source's; without it the source's own audio is used, if any.
    """
    out_dir = out_dir.resolve()
    hls_dir = out_dir / HLS_DIR
    read_limit = {} if read_limit_s is None else {"t": f"{read_limit_s:.3f}"}
    source_input = ffmpeg.input(f"file:{source.resolve()}", **read_limit, **UNTRUSTED_INPUT_OPTIONS)
    gop = round(SEGMENT_S * fps)
    decoded = source_input["V:0"]
    sample_outputs = []
    if samplings:
        branches = decoded.filter_multi_output("split", 1 + len(samplings))
        decoded = branches[0]
        sample_outputs = [
            sampling.output(branches[1 + index], str(path.resolve()))
            for index, (sampling, path) in enumerate(samplings)
        ]
    video = decoded.filter("fps", fps=str(fps)).filter_multi_output("split", len(rungs) + 1)
    audio = None
    if replace_audio is not None:
        duration = f"{facts.duration_s:.3f}"
        sound = ffmpeg.input(f"file:{replace_audio.resolve()}", **UNTRUSTED_INPUT_OPTIONS)["a:0"]
        audio = (
            sound.filter("apad", whole_dur=duration)
            .filter("atrim", end=duration)
            .filter_multi_output("asplit", len(rungs))
        )
    elif facts.has_audio:
        audio = source_input["a:0"].filter_multi_output("asplit", len(rungs))

    streams = []
    options: dict[str, object] = {}
    stream_map = []
    for index, rung in enumerate(rungs):
        streams.append(video[index].filter("scale", rung.width, rung.height).filter("format", "yuv420p"))
        options[f"maxrate:v:{index}"] = rung.video_maxrate
        options[f"bufsize:v:{index}"] = 2 * rung.video_maxrate
        if audio is None:
            stream_map.append(f"v:{index}")
        else:
            streams.append(audio[index])
            options[f"b:a:{index}"] = rung.audio_bitrate
            stream_map.append(f"v:{index},a:{index}")
    if audio is not None:
        options.update({"c:a": "aac", "ac": 2, "ar": AUDIO_SAMPLE_RATE})
    ladder = ffmpeg.output(
        *streams,
        str(hls_dir / "v%v" / "index.m3u8"),
        **options,
        **{
            "c:v": "libx264",
            "profile:v": "high",
            "preset": PRESET,
            "crf": CRF,
            "g": gop,
            "keyint_min": gop,
            "bf": B_FRAMES,
            "sc_threshold": 0,
            "force_key_frames": f"expr:gte(t,n_forced*{SEGMENT_S})",
            "format": "hls",
            "hls_time": SEGMENT_S,
            "hls_playlist_type": "vod",
            "hls_segment_type": "fmp4",
            "hls_flags": "independent_segments",
            "hls_fmp4_init_filename": "init.mp4",
            "hls_segment_filename": str(hls_dir / "v%v" / "seg_%03d.m4s"),
            "master_pl_name": MASTER_PLAYLIST,
            "var_stream_map": " ".join(stream_map),
        },
    )
    preview_frames = (
        video[len(rungs)]
        .filter("trim", duration=f"{PREVIEW_S:g}")
        .filter("scale", *scaled_size(facts.width, facts.height, PREVIEW_SHORT_SIDE))
        .filter("format", "yuv420p")
    )
    preview = ffmpeg.output(
        preview_frames,
        str(out_dir / PREVIEW),
        an=None,
        movflags="+faststart",
        preset=PRESET,
        crf=PREVIEW_CRF,
        **{"c:v": "libx264", "profile:v": "high"},
    )
    return ffmpeg_command(ffmpeg.merge_outputs(ladder, preview, *sample_outputs))


async def transcode_ladder(
    source: Path,
    out_dir: Path,
    facts: ProbeFacts,
    *,
    timeout_s: float,
    read_limit_s: float | None = None,
    replace_audio: Path | None = None,
    samplings: Sequence[FrameSampling] = (),
) -> Ladder:
    """Write the HLS ladder of `source` under `out_dir/hls/` with a complete master playlist, and
    its preview (of at most the first `read_limit_s` seconds of the source, when given); return
    them with the frames of each of `samplings`, taken from the same decode."""
    fps = output_fps(facts.fps)
    rungs = plan_ladder(facts, fps)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The samples go to a folder of their own: everything under `out_dir` is published.
    with tempfile.TemporaryDirectory(prefix="reels-samples-") as scratch:
        sample_paths = [Path(scratch) / f"samples-{index}.raw" for index in range(len(samplings))]
        argv = ladder_command(
            source,
            out_dir,
            facts,
            rungs,
            fps,
            replace_audio,
            read_limit_s=read_limit_s,
            samplings=list(zip(samplings, sample_paths, strict=True)),
        )
        await run_ffmpeg(argv, timeout_s=timeout_s, what="HLS ladder transcode")
        # Off the event loop: a 90 s reel's colour samples for the hook are ~13 MB.
        raw = await asyncio.gather(*(asyncio.to_thread(path.read_bytes) for path in sample_paths))
        samples = tuple(sampling.frames(data) for sampling, data in zip(samplings, raw, strict=True))
    with_audio = replace_audio is not None or facts.has_audio
    renditions = tuple(
        _read_rendition(out_dir, index, rung, float(fps), with_audio) for index, rung in enumerate(rungs)
    )
    master = out_dir / HLS_DIR / MASTER_PLAYLIST
    _write_atomically(master, master_playlist(renditions))
    return Ladder(f"{HLS_DIR}/{MASTER_PLAYLIST}", renditions, PREVIEW, samples)


def master_playlist(renditions: tuple[Rendition, ...]) -> str:
    """The master playlist with every attribute players use to pick a rung; lowest rung first,
    so players start on the rung that arrives fastest."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in renditions:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},AVERAGE-BANDWIDTH={rendition.average_bandwidth},"
            f"RESOLUTION={rendition.width}x{rendition.height},FRAME-RATE={rendition.frame_rate:.3f},"
            f'CODECS="{rendition.codecs}"'
        )
        lines.append(rendition.playlist_path.removeprefix(f"{HLS_DIR}/"))
    return "\n".join(lines) + "\n"


def peak_bandwidth(sizes: list[int], durations: list[float], target_duration: float = SEGMENT_S) -> int:
    """Peak bit rate as Apple's HLS authoring spec defines it: the highest rate over any run of
    consecutive segments lasting 0.5–1.5 × the target duration (whole stream if shorter)."""
    peak = 0.0
    for start in range(len(sizes)):
        bits = seconds = 0.0
        for size, duration in zip(sizes[start:], durations[start:], strict=True):
            bits += 8 * size
            seconds += duration
            if seconds > 1.5 * target_duration:
                break
            if seconds >= 0.5 * target_duration:
                peak = max(peak, bits / seconds)
    return math.ceil(peak) if peak else _average_bandwidth(sizes, durations)


def parse_media_playlist(text: str) -> tuple[str, list[tuple[float, str]]]:
    """The init segment URI and (duration, URI) of each segment of an fMP4 media playlist."""
    init_uri = ""
    segments: list[tuple[float, str]] = []
    duration: float | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:"):
            init_uri = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXTINF:"):
            duration = float(line.removeprefix("#EXTINF:").split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, line))
            duration = None
    return init_uri, segments


def avc_codec_string(init_segment: bytes) -> str:
    """RFC 6381 `avc1.PPCCLL` from the avcC box (profile, constraint flags, level) of an init segment."""
    box = init_segment.find(b"avcC")
    if box < 0:
        raise TranscodeError("the ladder's init segment has no H.264 configuration (avcC)")
    profile, constraints, level = init_segment[box + 5 : box + 8]
    return f"avc1.{profile:02x}{constraints:02x}{level:02x}"


def _read_rendition(out_dir: Path, index: int, rung: Rung, fps: float, with_audio: bool) -> Rendition:
    rung_dir = f"{HLS_DIR}/v{index}"
    playlist = f"{rung_dir}/index.m3u8"
    init_uri, segments = parse_media_playlist((out_dir / playlist).read_text())
    if not segments:
        raise TranscodeError(f"the ladder wrote no segments for rung {rung.width}x{rung.height}")
    sizes = [(out_dir / rung_dir / uri).stat().st_size for _, uri in segments]
    durations = [duration for duration, _ in segments]
    codecs = avc_codec_string((out_dir / rung_dir / init_uri).read_bytes())
    if with_audio:
        codecs += f",{AAC_LC_CODEC}"
    return Rendition(
        width=rung.width,
        height=rung.height,
        frame_rate=fps,
        bandwidth=peak_bandwidth(sizes, durations),
        average_bandwidth=_average_bandwidth(sizes, durations),
        codecs=codecs,
        video_maxrate=rung.video_maxrate,
        audio_bitrate=rung.audio_bitrate if with_audio else None,
        playlist_path=playlist,
        init_path=f"{rung_dir}/{init_uri}",
        segment_paths=tuple(f"{rung_dir}/{uri}" for _, uri in segments),
        segment_durations=tuple(durations),
    )


def _average_bandwidth(sizes: list[int], durations: list[float]) -> int:
    return math.ceil(8 * sum(sizes) / sum(durations))


def _by_short_side(table: dict[int, int] | dict[int, float], side: int) -> float:
    """The entry of the largest standard short side not above `side` (the smallest for tiny sources)."""
    return table[max((key for key in table if key <= side), default=min(table))]


def _even(value: float) -> int:
    # Rounds down: H.264 4:2:0 needs even sizes and the result never exceeds the source.
    return max(2, int(value) // 2 * 2)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
