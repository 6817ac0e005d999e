"""Test clips and the checks the media tests share."""

from __future__ import annotations

import asyncio
import io
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from reels.media import ProbeFacts, ProcessedMedia, process_source
from reels.media.frames import FrameSampling
from reels.media.runner import ffmpeg_binary

SOURCE_TONE_HZ = 440
SOUND_TONE_HZ = 880


@dataclass(frozen=True)
class Clips:
    with_audio: Path  # 6 s, 540×960 portrait, 30 fps, 440 Hz tone
    silent: Path  # 4 s, 360×640, no audio
    rotated: Path  # `silent` with a 90° display matrix: shown as 640×360
    too_long: Path  # 95 s at 64×112, 1 fps
    too_wide: Path  # one frame, 4112×64
    audio_only: Path
    random_bytes: Path
    truncated: Path  # first half of `with_audio` (its index, at the end, is lost)
    sound: Path  # 10 s, 880 Hz: the "use this sound" audio


def make(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def testsrc(size: str, rate: int, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]


def sine(hz: int, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=f={hz}:d={seconds}:sample_rate=44100"]


# What a worker asks of the ladder's decode for the automated checks (fingerprint, classifier).
SAMPLINGS = (FrameSampling(8, 32, 32), FrameSampling(1, 64, 48, "rgb24"))
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def process(source: Path, out_dir: Path, **options: object) -> ProcessedMedia:
    return asyncio.run(process_source(source, out_dir, **options))  # type: ignore[arg-type]


def open_bytes(data: bytes) -> av.container.InputContainer:
    return av.open(io.BytesIO(data))


def duration_s(path: Path, kind: str) -> float:
    """Duration of the first `kind` stream, from its decoded frames."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        end = 0.0
        for frame in container.decode(stream):
            length = frame.samples / frame.sample_rate if kind == "audio" else 1 / float(stream.average_rate)
            end = max(end, float(frame.time) + length)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        return end - start


def dominant_frequency_hz(path: Path) -> float:
    """The loudest frequency of the first audio stream of `path` (an HLS playlist works too)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        samples = np.concatenate([frame.to_ndarray()[0].astype(np.float64) for frame in container.decode(stream)])
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


# Probe facts of a typical phone upload, for tests of rules that need no real file.
PORTRAIT_1080P = ProbeFacts(
    container_format="mov,mp4,m4a,3gp,3g2,mj2",
    has_video=True,
    has_audio=True,
    duration_s=30.0,
    width=1080,
    height=1920,
    rotation=0,
    fps=30.0,
    video_codec="h264",
    audio_codec="aac",
    bitrate=20_000_000,
)
