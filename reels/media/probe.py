"""What an upload contains, read with PyAV in a child process, and whether we accept it.

Untrusted files are never opened in the calling process: a crash inside libav would take the
worker down with it. `probe()` runs `python -m reels.media.probe FILE`, which prints the facts
as JSON.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import InputContainer
from av.stream import Disposition, Stream

from reels.media.errors import MediaRejected, TranscodeError
from reels.media.runner import run_child

MAX_SIDE_PX = 4096
# Phones stop "90 s" recordings a few frames late; do not reject those.
DURATION_GRACE_S = 0.5
PROBE_TIMEOUT_S = 30.0
# Demuxers libav may use on uploads, in PyAV here and in FFmpeg later. Keeps
# playlist-style formats (hls, concat, ...) that open other files or URLs away from user input.
ALLOWED_DEMUXERS = "mov,matroska,webm,avi,mpegts,mp3,ogg,wav,flac"
UNTRUSTED_INPUT_OPTIONS = {"format_whitelist": ALLOWED_DEMUXERS, "protocol_whitelist": "file"}
UNREADABLE = "the file is not a readable video"


@dataclass(frozen=True)
class ProbeFacts:
    """Facts about a media file. Width and height are as displayed (rotation applied); 0 without video."""

    container_format: str
    has_video: bool
    has_audio: bool
    duration_s: float
    width: int
    height: int
    rotation: int
    fps: float
    video_codec: str | None
    audio_codec: str | None
    bitrate: int

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


class Unreadable(Exception):
    """libav could not make sense of the file."""


def probe_file(path: Path) -> ProbeFacts:
    """Open `path` with PyAV in this process. Only for the probe child process and trusted files."""
    try:
        with av.open(str(path), options=UNTRUSTED_INPUT_OPTIONS) as container:
            videos = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
            audio = container.streams.audio[0] if container.streams.audio else None
            video = videos[0] if videos else None
            duration_s = _duration_s(container, video or audio)
            width = height = rotation = 0
            fps = 0.0
            if video is not None:
                # The first decoded frame proves the stream is decodable and carries the display
                # matrix (PyAV does not expose stream side data).
                frame = next(container.decode(video), None)
                if frame is None:
                    raise Unreadable("no video frame could be decoded")
                rotation = frame.rotation % 360
                width, height = _display_size(video.width, video.height, video.sample_aspect_ratio)
                if rotation in (90, 270):
                    width, height = height, width
                fps = float(video.average_rate or video.guessed_rate or 0)
            bitrate = container.bit_rate or (round(path.stat().st_size * 8 / duration_s) if duration_s else 0)
            return ProbeFacts(
                container_format=container.format.name,
                has_video=video is not None,
                has_audio=audio is not None,
                duration_s=duration_s,
                width=width,
                height=height,
                rotation=rotation,
                fps=fps,
                video_codec=video.codec_context.name if video is not None else None,
                audio_codec=audio.codec_context.name if audio is not None else None,
                bitrate=bitrate,
            )
    except av.FFmpegError as exc:
        raise Unreadable(str(exc)) from exc


async def probe(path: Path, *, timeout_s: float = PROBE_TIMEOUT_S) -> ProbeFacts:
    """Probe `path` in a child process.

    Raises `MediaRejected` when libav cannot read the file (or crashes on it) and
    `TranscodeError` when the probe times out or fails for another reason.
    """
    argv = [sys.executable, "-m", "reels.media.probe", str(Path(path).resolve())]
    finished = await run_child(argv, timeout_s=timeout_s, what="probe", capture_stdout=True)
    if finished.returncode < 0:  # killed by a signal: libav crashed on this file
        raise MediaRejected(UNREADABLE)
    if finished.returncode != 0:
        raise TranscodeError(f"probe failed (exit status {finished.returncode}): {finished.stderr_tail}")
    answer = json.loads(finished.stdout)
    if "unreadable" in answer:
        raise MediaRejected(UNREADABLE)
    return ProbeFacts(**answer["facts"])


def validate(facts: ProbeFacts, *, max_duration_s: float) -> None:
    """Raise `MediaRejected` with a sentence for the creator when the upload cannot be a reel."""
    if not facts.has_video:
        raise MediaRejected("the file has no video stream")
    if facts.duration_s <= 0 or facts.width <= 0 or facts.height <= 0:
        raise MediaRejected(UNREADABLE)
    if facts.duration_s > max_duration_s + DURATION_GRACE_S:
        raise MediaRejected(f"video is {_seconds(facts.duration_s)} s long; the limit is {_seconds(max_duration_s)} s")
    if max(facts.width, facts.height) > MAX_SIDE_PX:
        raise MediaRejected(f"video is {facts.width}×{facts.height} pixels; the limit is {MAX_SIDE_PX} on either side")


def _duration_s(container: InputContainer, stream: Stream | None) -> float:
    if container.duration:
        return container.duration / 1_000_000
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def _display_size(width: int, height: int, sample_aspect_ratio: Fraction | None) -> tuple[int, int]:
    # Non-square pixels (rare, from old cameras) are stretched to their displayed width.
    if sample_aspect_ratio and sample_aspect_ratio != 1:
        width = round(width * sample_aspect_ratio)
    return width, height


def _seconds(value: float) -> str:
    return f"{round(value, 1):g}"


def main(argv: list[str]) -> int:
    (path,) = argv
    try:
        answer: dict[str, object] = {"facts": asdict(probe_file(Path(path)))}
    except Unreadable as exc:
        answer = {"unreadable": str(exc)}
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
