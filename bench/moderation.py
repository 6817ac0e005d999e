"""Re-upload matcher benchmark: distinct generated clips, their transformed copies, one index.

    .venv/bin/python bench/moderation.py [--clips 200] [--seconds 6] [--workers 2] [--timeout 2400]

Generates --clips distinct --seconds long 270×480 30 fps clips with FFmpeg's lavfi sources, in
families drawn in turn (each clip's parameters from its own seeded generator): Mandelbrot zooms,
Game of Life boards, elementary cellular automata, moving gradients, scrolling noise blobs,
cropped and flipped test patterns, moving sine plasmas, words on plain backgrounds and coloured
boxes in motion; most also get a word of text or a box on top. Each original (H.264 CRF 18) gets five
copies made from it:

- identical: the same bytes, as a re-upload of the very file;
- reencode: H.264 at CRF 35;
- scaled: 180×320 or 360×640, CRF 23;
- brightened: brightness +0.08 to +0.20, CRF 23;
- trimmed: 1–2 s cut off the start, the end, or both (split at random), CRF 23.

A pool of --workers processes makes and fingerprints clips (FFmpeg at one thread each); the
main process indexes every original in one `HashIndex`, then asks it about each copy (caught:
its original is the best match) and each original (any match but itself is a false match; so
is a copy matching another clip's original). Then the index is padded with random fingerprints
of --padding-reels 30 s reels to time a query through the band tables against a linear numpy
scan of the same windows.

Prints the counts per transform and per family, then as the LAST line (bench/common.py):
{"bench": "moderation", "value": <share of copies caught>, "floor": 0.95, "false_matches": <n>,
 "samples": <queries>, ...}
The floor of the headline is the goal, not a measurement: a share of copies caught has no
"fastest reasonable way to do the same work" to compare with, only a bar to clear (value >= floor
with false_matches == 0 meets it). The lookup time does have one, a linear numpy scan of the same
windows, timed alternately with the index query on the same copies (A B A B).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import emit

from reels.media.frames import sample_frames
from reels.media.runner import ffmpeg_binary
from reels.moderation import FRAME_SIZE, SAMPLE_FPS, Fingerprint, HashIndex, fingerprint
from reels.moderation.phash import hamming

GOAL = 0.95
SIZE = (270, 480)
FPS = 30
TRANSFORMS = ("identical", "reencode", "scaled", "brightened", "trimmed")
WORDS = ("summer", "REELS", "dance", "42", "wow", "cat", "GO!", "tutorial", "moon", "hey", "lol", "2026")
MANDELBROT_POINTS = 28  # zoom targets spread along the main cardioid's edge
CELLAUTO_RULES = (18, 22, 26, 30, 41, 45, 54, 60, 73, 90, 105, 110, 122, 126, 150, 182)


@dataclass(frozen=True)
class ClipResult:
    number: int
    family: str
    original: Fingerprint
    copies: dict[str, Fingerprint]
    trim: str
    seconds: float  # wall time to make and fingerprint the clip and its copies


# --- the clips -----------------------------------------------------------------------------------


def _colour(rng: np.random.Generator) -> str:
    return "0x" + "".join(f"{int(v):02x}" for v in rng.integers(0, 256, 3))


def _overlay(rng: np.random.Generator) -> str:
    """A word of text or a box, most of the time, some of them moving."""
    w, h = SIZE
    choice = rng.integers(0, 3)
    if choice == 0:
        word = WORDS[rng.integers(len(WORDS))]
        x = f"{rng.integers(0, w // 2)}+{rng.integers(0, 40)}*sin(t*{rng.uniform(0.5, 2):.2f})"
        y = rng.integers(0, h - 80)
        return (
            f",drawtext=text='{word}':fontsize={rng.integers(28, 64)}:fontcolor={_colour(rng)}"
            f":x={x}:y={y}:borderw=2:bordercolor={_colour(rng)}"
        )
    if choice == 1:
        bw, bh = rng.integers(30, 120, 2)
        x = f"{rng.integers(0, w - bw)}+{rng.integers(0, 60)}*sin(t*{rng.uniform(0.5, 2):.2f})"
        return f",drawbox=x={x}:y={rng.integers(0, h - bh)}:w={bw}:h={bh}:color={_colour(rng)}:t=fill"
    return ""


def mandelbrot(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    """A 4× zoom into a point of the main cardioid's edge, its own for each clip (until they run
    out: then at scales 16× smaller). Not a point used twice: the set is self-similar around
    many points, so zooms into one point at two scales look alike."""
    theta = 2 * np.pi * (ordinal % MANDELBROT_POINTS + 0.5) / MANDELBROT_POINTS
    c = np.exp(1j * theta) / 2 - np.exp(2j * theta) / 4
    start = 0.02 / 16 ** (ordinal // MANDELBROT_POINTS)
    return (
        f"mandelbrot=s=135x240:r={FPS}:start_x={c.real:.12f}:start_y={c.imag:.12f}:start_scale={start:.6g}"
        f":end_scale={start / 4:.6g}:end_pts={seconds * FPS:g}:maxiter=300:inner=mincol,scale={SIZE[0]}:{SIZE[1]}"
    )


def life(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    cols, rows = rng.integers(24, 54), rng.integers(40, 96)
    return (
        f"life=s={cols}x{rows}:r={rng.integers(3, 9)}:seed={rng.integers(1 << 30)}:ratio={rng.uniform(0.15, 0.5):.2f}"
        f":mold={rng.integers(0, 40)}:life_color={_colour(rng)}:death_color={_colour(rng)}:mold_color={_colour(rng)}"
        f",fps={FPS},scale={SIZE[0]}:{SIZE[1]}:flags=neighbor"
    )


def cellauto(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    cols, rows = rng.integers(40, 90), rng.integers(70, 160)
    rule = CELLAUTO_RULES[rng.integers(len(CELLAUTO_RULES))]
    return (
        f"cellauto=s={cols}x{rows}:r={rng.integers(6, 16)}:rule={rule}:seed={rng.integers(1 << 30)}"
        f":random_fill_ratio={rng.uniform(0.2, 0.8):.2f}:scroll=1,fps={FPS},scale={SIZE[0]}:{SIZE[1]}:flags=neighbor"
    )


def gradients(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    kind = ("linear", "radial", "circular", "spiral", "square")[rng.integers(5)]
    colours = ":".join(f"c{i}={_colour(rng)}" for i in range(rng.integers(2, 6)))
    return (
        f"gradients=s={SIZE[0]}x{SIZE[1]}:r={FPS}:{colours}:n={colours.count('=')}:type={kind}"
        f":seed={rng.integers(1 << 30)}:speed={rng.uniform(0.005, 0.03):.4f}"
    )


def noise(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    cols, rows = rng.integers(6, 14), rng.integers(10, 24)
    return (
        f"color=c={_colour(rng)}:s={cols}x{rows}:r={FPS},noise=alls={rng.integers(60, 100)}"
        f":all_seed={rng.integers(1 << 30)},scale={SIZE[0]}:{SIZE[1]}:flags=bicubic"
        f",scroll=h={rng.uniform(-0.004, 0.004):.4f}:v={rng.uniform(-0.004, 0.004):.4f}"
    )


def pattern(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    """A crop of a zoomed-in, maybe flipped test pattern, maybe panning."""
    source = ("testsrc2", "testsrc", "rgbtestsrc", "smptebars", "colorchart")[rng.integers(5)]
    zoom = rng.uniform(1.2, 3.0)
    big_w, big_h = int(SIZE[0] * zoom) // 2 * 2, int(SIZE[1] * zoom) // 2 * 2
    flip = ("", ",hflip", ",vflip", ",hflip,vflip")[rng.integers(4)]
    x, y = rng.integers(0, big_w - SIZE[0] + 1), rng.integers(0, big_h - SIZE[1] + 1)
    pan = f"+{rng.integers(5, 30)}*t" if rng.integers(2) else ""
    size = "patch_size=64x64" if source == "colorchart" else f"s={big_w}x{big_h}"
    return f"{source}={size}:r={FPS},scale={big_w}:{big_h}{flip},crop={SIZE[0]}:{SIZE[1]}:'min(iw-ow,{x}{pan})':{y}"


def plasma(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    """Three moving sine waves of random direction, wavelength and speed, summed."""
    waves = []
    for _ in range(3):
        fx, fy = rng.uniform(-0.12, 0.12, 2)
        waves.append(f"40*sin({fx:.4f}*X+{fy:.4f}*Y+{rng.uniform(-3, 3):.2f}*T+{rng.uniform(0, 6.28):.2f})")
    return f"color=s=135x240:r={FPS},format=gray,geq=lum='128+{'+'.join(waves)}',scale={SIZE[0]}:{SIZE[1]}"


def text(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    """Words of several sizes and colours on a plain background, some of them sliding."""
    graph = f"color=c={_colour(rng)}:s={SIZE[0]}x{SIZE[1]}:r={FPS}"
    for _ in range(rng.integers(3, 6)):
        word = WORDS[rng.integers(len(WORDS))]
        x = f"{rng.integers(0, SIZE[0] // 2)}+{rng.integers(0, 50)}*sin(t*{rng.uniform(0.3, 2):.2f})"
        graph += (
            f",drawtext=text='{word}':fontsize={rng.integers(36, 110)}:fontcolor={_colour(rng)}"
            f":x={x}:y={rng.integers(0, SIZE[1] - 100)}"
        )
    return graph


def boxes(rng: np.random.Generator, seconds: float, ordinal: int) -> str:
    w, h = SIZE
    graph = f"color=c={_colour(rng)}:s={w}x{h}:r={FPS}"
    for _ in range(rng.integers(3, 7)):
        bw, bh = rng.integers(30, 160), rng.integers(30, 240)
        x = f"{rng.integers(0, w - bw)}+{rng.integers(0, 80)}*sin(t*{rng.uniform(0.3, 2.5):.2f})"
        y = f"{rng.integers(0, h - bh)}+{rng.integers(0, 80)}*cos(t*{rng.uniform(0.3, 2.5):.2f})"
        graph += f",drawbox=x={x}:y={y}:w={bw}:h={bh}:color={_colour(rng)}:t=fill"
    return graph


FAMILIES: dict[str, Callable[[np.random.Generator, float, int], str]] = {
    "mandelbrot": mandelbrot,
    "life": life,
    "cellauto": cellauto,
    "gradients": gradients,
    "noise": noise,
    "pattern": pattern,
    "plasma": plasma,
    "text": text,
    "boxes": boxes,
}


def ffmpeg(*args: str) -> None:
    argv = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-threads", "1", *args]
    subprocess.run(argv, check=True)


def x264(crf: int, preset: str = "veryfast") -> list[str]:
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", "-threads", "1"]


async def _fingerprint(path: Path) -> Fingerprint:
    frames = await sample_frames(path, fps=SAMPLE_FPS, width=FRAME_SIZE, height=FRAME_SIZE)
    return fingerprint(frames)


def make_clip(job: tuple[int, int, float]) -> ClipResult:
    """Make clip `number` and its copies in a scratch folder, return their fingerprints."""
    number, seed, seconds = job
    started = time.monotonic()
    rng = np.random.default_rng([seed, number])
    family = list(FAMILIES)[number % len(FAMILIES)]
    graph = FAMILIES[family](rng, seconds, number // len(FAMILIES)) + _overlay(rng) + ",format=yuv420p"
    with tempfile.TemporaryDirectory(prefix="reels-bench-moderation-") as folder:
        original = Path(folder) / "original.mp4"
        ffmpeg("-f", "lavfi", "-i", graph, "-t", f"{seconds:g}", *x264(18, "ultrafast"), str(original))
        paths = {name: Path(folder) / f"{name}.mp4" for name in TRANSFORMS}
        shutil.copyfile(original, paths["identical"])
        ffmpeg("-i", str(original), *x264(35), str(paths["reencode"]))
        scaled = ("180:320", "360:640")[rng.integers(2)]
        ffmpeg("-i", str(original), "-vf", f"scale={scaled}", *x264(23, "ultrafast"), str(paths["scaled"]))
        brightness = rng.uniform(0.08, 0.2)
        brighten = ["-vf", f"eq=brightness={brightness:.3f}"]
        ffmpeg("-i", str(original), *brighten, *x264(23, "ultrafast"), str(paths["brightened"]))
        cut = rng.uniform(1, 2)
        head = (cut, 0.0, cut * rng.uniform(0.2, 0.8))[rng.integers(3)]  # the start, the end, or both
        kept = seconds - cut
        ffmpeg(
            "-ss",
            f"{head:.3f}",
            "-i",
            str(original),
            "-t",
            f"{kept:.3f}",
            *x264(23, "ultrafast"),
            str(paths["trimmed"]),
        )
        fingerprints = asyncio.run(_fingerprints([original, *paths.values()]))
    trim = f"{head:.2f} s off the start, {cut - head:.2f} s off the end"
    copies = dict(zip(TRANSFORMS, fingerprints[1:], strict=True))
    return ClipResult(number, family, fingerprints[0], copies, trim, time.monotonic() - started)  # fmt: skip


async def _fingerprints(paths: list[Path]) -> list[Fingerprint]:
    return [await _fingerprint(path) for path in paths]


# --- the measurements ----------------------------------------------------------------------------


def run_pool(args: argparse.Namespace) -> tuple[list[ClipResult], bool]:
    """Every clip the pool makes before --timeout; True when all were made."""
    jobs = [(number, args.seed, args.seconds) for number in range(args.clips)]
    results: list[ClipResult] = []
    deadline = time.monotonic() + args.timeout
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        pending = pool.imap_unordered(make_clip, jobs)
        while len(results) < len(jobs):
            try:
                results.append(pending.next(timeout=max(0.0, deadline - time.monotonic())))
            except multiprocessing.TimeoutError:
                print(f"timeout: {len(results)} of {len(jobs)} clips made in {args.timeout:g} s", flush=True)
                pool.terminate()
                return sorted(results, key=lambda clip: clip.number), False
            if len(results) % 20 == 0:
                print(f"  {len(results)} clips made", flush=True)
    return sorted(results, key=lambda clip: clip.number), True


def measure_matching(clips: list[ClipResult]) -> dict[str, object]:
    index = HashIndex()
    for clip in clips:
        index.add(str(clip.number), clip.original)
    caught: Counter[str] = Counter()
    caught_family: Counter[str] = Counter()
    false_matches: list[str] = []
    missed: list[str] = []
    query_ms: list[float] = []
    for clip in clips:
        started = time.perf_counter()
        own = index.query(clip.original)
        query_ms.append((time.perf_counter() - started) * 1000)
        false_matches += [
            f"original {clip.number} matched {m.reel_id} ({m.score})" for m in own if m.reel_id != str(clip.number)
        ]
        for transform, copy in clip.copies.items():
            started = time.perf_counter()
            matches = index.query(copy)
            query_ms.append((time.perf_counter() - started) * 1000)
            others = [m for m in matches if m.reel_id != str(clip.number)]
            false_matches += [f"{transform} copy of {clip.number} matched {m.reel_id} ({m.score})" for m in others]
            if matches and matches[0].reel_id == str(clip.number):
                caught[transform] += 1
                caught_family[clip.family] += 1
            else:
                extra = f", trim {clip.trim}" if transform == "trimmed" else ""
                missed.append(f"{transform} copy of {clip.number} ({clip.family}{extra}): {matches[:1]}")
    families = Counter(clip.family for clip in clips)
    print(f"clips: {len(clips)}; windows indexed: {sum(len(c.original) for c in clips):,}")
    for transform in TRANSFORMS:
        print(f"  {transform:9s} caught {caught[transform]:4d} of {len(clips)}")
    for family, count in sorted(families.items()):
        print(f"  {family:11s} {caught_family[family]:4d} of {len(TRANSFORMS) * count} copies caught")
    for line in missed[:20]:
        print(f"  missed: {line}")
    for line in false_matches[:20]:
        print(f"  FALSE MATCH: {line}")
    copies = len(TRANSFORMS) * len(clips)
    return {
        "value": round(sum(caught.values()) / copies, 4) if copies else 0.0,
        "caught": {transform: caught[transform] for transform in TRANSFORMS},
        "copies": copies,
        "false_matches": len(false_matches),
        "distinct_clips": len(clips),
        "samples": len(query_ms),
        "windows_indexed": sum(len(clip.original) for clip in clips),
        "query_ms_p50": round(statistics.median(query_ms), 3),
        "query_ms_max": round(max(query_ms), 3),
    }


def measure_lookup(clips: list[ClipResult], args: argparse.Namespace) -> dict[str, object]:
    """Query time with the index padded by random 30 s fingerprints, against a linear scan."""
    rng = np.random.default_rng(args.seed)
    index = HashIndex()
    every_hash = [clip.original.hashes for clip in clips]
    for clip in clips:
        index.add(str(clip.number), clip.original)
    windows = 30 * 4  # a 30 s reel, a window every 0.25 s
    positions = np.arange(0, 2 * windows, 2, dtype=np.int32)
    for reel in range(args.padding_reels):
        hashes = rng.integers(0, np.iinfo(np.uint64).max, windows, dtype=np.uint64, endpoint=True)
        every_hash.append(hashes)
        index.add(f"padding-{reel}", Fingerprint(hashes, positions, 2 * windows, SAMPLE_FPS))
    every_hash = np.concatenate(every_hash)
    started = time.perf_counter()
    data = index.to_bytes()  # folds the adds in and builds the band tables
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    index = HashIndex.from_bytes(data)
    load_s = time.perf_counter() - started
    queries = [clip.copies["reencode"] for clip in clips[: args.lookup_samples]]
    indexed_ms, linear_ms = [], []
    for copy in queries:
        started = time.perf_counter()
        index.query(copy)
        indexed_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        for window in copy.every(1.0).hashes:
            np.flatnonzero(hamming(window, every_hash) <= index.radius)
        linear_ms.append((time.perf_counter() - started) * 1000)
    print(
        f"padded index: {len(index):,} reels, {len(every_hash):,} windows, {len(data) / 1e6:.1f} MB serialised "
        f"(build {build_s:.2f} s, load {load_s:.2f} s); query p50 {statistics.median(indexed_ms):.2f} ms, "
        f"linear scan of the windows p50 {statistics.median(linear_ms):.1f} ms ({len(queries)} queries)"
    )
    return {
        "padded_reels": len(index),
        "padded_windows": len(every_hash),
        "padded_bytes": len(data),
        "padded_build_s": round(build_s, 3),
        "padded_load_s": round(load_s, 3),
        "padded_query_ms_p50": round(statistics.median(indexed_ms), 3),
        "linear_scan_ms_p50": round(statistics.median(linear_ms), 3),
        "lookup_samples": len(queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each original")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=2400, help="seconds for making the clips")
    parser.add_argument("--padding-reels", type=int, default=20_000, help="random 30 s reels for the lookup timing")
    parser.add_argument("--lookup-samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.seconds < 5:
        sys.exit("--seconds must leave at least 3 s, the shortest match, after a 2 s trim")

    started = time.monotonic()
    clips, complete = run_pool(args)
    making_s = time.monotonic() - started
    print(f"made {len(clips)} clips and {len(TRANSFORMS) * len(clips)} copies in {making_s:.0f} s "
          f"({statistics.mean(c.seconds for c in clips):.1f} s each per worker)", flush=True)  # fmt: skip
    result: dict[str, object] = {"bench": "moderation"}
    matching = measure_matching(clips)
    result |= {"value": matching.pop("value"), "floor": GOAL}
    result |= matching
    result |= measure_lookup(clips, args)
    result |= {
        "complete": complete,
        "seconds_per_clip": args.seconds,
        "making_s": round(making_s),
        "workers": args.workers,
        "seed": args.seed,
    }
    emit(result)


if __name__ == "__main__":
    main()
