"""Short clips made once per session, and their fingerprints: a blocked original, its copies, and
clips unlike it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from reels.media.frames import sample_frames
from reels.moderation import FRAME_SIZE, SAMPLE_FPS, Fingerprint, fingerprint
from tests.media.clips import make

SIZE = "270x480"
SECONDS = 5
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-threads", "1"]
SOURCES = {
    # A panning test pattern with a box swinging across it.
    "original": "testsrc2=s=540x960:r=30,crop=270:480:'20*t':100,drawbox=x='40+60*sin(t)':y=200:w=90:h=60:color=0xd03020:t=fill",
    "mandelbrot": "mandelbrot=s=135x240:r=30:start_x=-0.7453:start_y=0.1127:start_scale=0.02:end_scale=0.005:end_pts=150:maxiter=200,scale=270:480",
    "life": "life=s=30x54:r=5:seed=11:ratio=0.35:mold=20:life_color=0xffcc00:death_color=0x102040,fps=30,scale=270:480:flags=neighbor",
    "boxes": "color=c=0x2050a0:s=270x480:r=30,drawbox=x='30+50*sin(t)':y=60:w=120:h=200:color=0xf0f0f0:t=fill,drawbox=x=150:y='250+40*cos(t)':w=90:h=150:color=0x101010:t=fill",
}  # fmt: skip


@dataclass(frozen=True)
class Clips:
    original: Path
    reencoded: Path  # CRF 35
    scaled: Path  # 180×320, brighter
    trimmed: Path  # 1.3 s off the start, 0.4 s off the end
    others: dict[str, Path]  # clips unlike the original and each other


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    root = tmp_path_factory.mktemp("moderation")
    paths = {name: root / f"{name}.mp4" for name in SOURCES}
    for name, source in SOURCES.items():
        make("-f", "lavfi", "-i", f"{source},format=yuv420p", "-t", str(SECONDS), *X264, "-crf", "18", str(paths[name]))
    original = paths.pop("original")
    copies = Clips(original, root / "reencoded.mp4", root / "scaled.mp4", root / "trimmed.mp4", paths)
    make("-i", str(original), *X264, "-crf", "35", str(copies.reencoded))
    make("-i", str(original), "-vf", "scale=180:320,eq=brightness=0.15", *X264, "-crf", "23", str(copies.scaled))
    make("-ss", "1.3", "-i", str(original), "-t", "3.3", *X264, "-crf", "23", str(copies.trimmed))
    return copies


def fingerprint_of(path: Path) -> Fingerprint:
    frames = asyncio.run(sample_frames(path, fps=SAMPLE_FPS, width=FRAME_SIZE, height=FRAME_SIZE))
    return fingerprint(frames)


@pytest.fixture(scope="session")
def fingerprints(clips: Clips) -> dict[str, Fingerprint]:
    named = {"original": clips.original, "reencoded": clips.reencoded, "scaled": clips.scaled, "trimmed": clips.trimmed}
    return {name: fingerprint_of(path) for name, path in {**named, **clips.others}.items()}
