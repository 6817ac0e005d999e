"""Transcode benchmark: the pipeline's HLS ladder against an independent hand-written FFmpeg ladder.

    .venv/bin/python bench/transcode.py [--pairs 5] [--seconds 30] [--cache-dir DIR]

Generates (once, cached) a --seconds long 1080×1920 30 fps clip with sound, then runs, A B A B
(--pairs pairs): (A) the floor, the literal FFmpeg argv below, written by hand and not from the
pipeline's code: one decode feeding the four rungs, the 3 s preview and the 8 fps 32×32 gray
samples the re-upload fingerprint is made of, with the same quality settings (x264 veryfast
CRF 23 with the same maxrates, GOP, B-frames, AAC, 2 s fMP4 HLS segments; preview CRF 28); and
(B) `reels.media.ladder.transcode_ladder` asked for the same samples (argv built with
ffmpeg-python, niced child process, playlist post-processing), the one FFmpeg process a worker
runs per upload. Both run at the same niceness, so on a busy machine both lose the same share
of CPU to other work. Measured per run: the CPU-seconds of the FFmpeg child (user + system, from
the children's rusage) and the wall time. After each pair, the whole `process_source` (probe,
thumbnail, the ladder, sound: what a worker does between PROCESSING and READY, storage and the
checks aside) runs too; its median wall time against the clip's duration is the "READY within
0.6 × the clip's duration on 2 cores" figure, its CPU-seconds against the floor's what the
steps around the ladder add (bench/upload.py measures READY end to end, through a server).

Last line (bench/common.py): {"bench": "transcode", "value": <median ladder CPU-s>, "floor":
 <median floor CPU-s>, "ratio": <median of pairwise CPU ratios>, "ratio_min", "ratio_max",
 "wall_ratio", "process_source_s" (median), "process_source_of_duration", "process_source_cpu_of_floor",
 "samples": <pairs>, ...}
Goals: ratio <= 1.05; process_source_of_duration <= 0.6.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from common import alternate, emit, pairwise

from reels.media.frames import FrameSampling
from reels.media.ladder import output_fps, plan_ladder, transcode_ladder
from reels.media.pipeline import process_source
from reels.media.probe import ProbeFacts, probe
from reels.media.runner import NICENESS, ffmpeg_binary
from reels.moderation import FRAME_SIZE, SAMPLE_FPS

GOAL = 1.05
READY_GOAL = 0.6  # of the clip's duration
# What the media worker asks of the ladder's decode (without a classifier hook configured).
FINGERPRINT_SAMPLING = FrameSampling(SAMPLE_FPS, FRAME_SIZE, FRAME_SIZE)


def source_argv(seconds: int) -> list[str]:
    # Sensor-like noise and a phone-like 12 Mb/s, so the decode and encode work resembles an upload.
    return [
        "-f", "lavfi", "-i", f"testsrc2=s=1080x1920:r=30:d={seconds}",
        "-f", "lavfi", "-i", f"sine=f=440:d={seconds}:sample_rate=48000",
        "-vf", "noise=alls=4:allf=t",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "12M", "-maxrate", "14M", "-bufsize", "24M",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest",
    ]  # fmt: skip


# The floor: the ladder a person would type for this source (720/480/360/240 short side,
# PeerTube bpp maxrates at 30 fps, the same GOP/B-frame/HLS settings as the pipeline), with the
# 3 s 360p preview and the 8 fps 32×32 gray samples from the same decode.
FLOOR_MAXRATES = (521_424, 1_036_800, 1_472_256, 3_041_280)
FLOOR_ARGV = [
    "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
    "-i", "{source}",
    "-filter_complex",
    "[0:V:0]split=2[decoded][sampled];"
    "[sampled]fps=fps=8,scale=32:32:flags=area,format=gray[samples];"
    "[decoded]fps=fps=30,split=5[a][b][c][d][p];"
    "[a]scale=240:426,format=yuv420p[v0];[b]scale=360:640,format=yuv420p[v1];"
    "[c]scale=480:852,format=yuv420p[v2];[d]scale=720:1280,format=yuv420p[v3];"
    "[p]trim=duration=3,scale=360:640,format=yuv420p[preview];"
    "[0:a:0]asplit=4[a0][a1][a2][a3]",
    "-map", "[v0]", "-map", "[a0]", "-map", "[v1]", "-map", "[a1]",
    "-map", "[v2]", "-map", "[a2]", "-map", "[v3]", "-map", "[a3]",
    "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-crf", "23",
    "-maxrate:v:0", "521424", "-bufsize:v:0", "1042848",
    "-maxrate:v:1", "1036800", "-bufsize:v:1", "2073600",
    "-maxrate:v:2", "1472256", "-bufsize:v:2", "2944512",
    "-maxrate:v:3", "3041280", "-bufsize:v:3", "6082560",
    "-g", "60", "-keyint_min", "60", "-bf", "3", "-sc_threshold", "0",
    "-force_key_frames", "expr:gte(t,n_forced*2)",
    "-c:a", "aac", "-ac", "2", "-ar", "48000",
    "-b:a:0", "64000", "-b:a:1", "96000", "-b:a:2", "128000", "-b:a:3", "128000",
    "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
    "-hls_flags", "independent_segments", "-hls_fmp4_init_filename", "init.mp4",
    "-hls_segment_filename", "{out}/v%v/seg_%03d.m4s", "-master_pl_name", "master.m3u8",
    "-var_stream_map", "v:0,a:0 v:1,a:1 v:2,a:2 v:3,a:3",
    "{out}/v%v/index.m3u8",
    "-map", "[preview]", "-an", "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-crf", "28",
    "-movflags", "+faststart", "{out}/preview.mp4",
    "-map", "[samples]", "-f", "rawvideo", "-pix_fmt", "gray", "{out}/samples.gray",
]  # fmt: skip


def ensure_source(cache_dir: Path, seconds: int) -> Path:
    source = cache_dir / f"source-1080x1920-30fps-{seconds}s.mp4"
    if not source.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {source} (once) ...", flush=True)
        partial = source.with_suffix(".part.mp4")
        subprocess.run(
            [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *source_argv(seconds), str(partial)],
            check=True,
        )
        partial.rename(source)
    return source


@dataclass
class Cost:
    cpu_s: float = 0.0
    wall_s: float = 0.0


@contextmanager
def measured() -> Iterator[Cost]:
    """CPU-seconds of the child processes that ended inside the block, and its wall time."""
    cost = Cost()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    yield cost
    cost.wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cost.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def check_same_work(facts: ProbeFacts) -> None:
    """Exit unless the pipeline would plan the very rungs the floor command encodes."""
    planned = tuple(rung.video_maxrate for rung in plan_ladder(facts, output_fps(facts.fps)))
    samples = (FINGERPRINT_SAMPLING.fps, FINGERPRINT_SAMPLING.width, FINGERPRINT_SAMPLING.height) != (8, 32, 32)
    if planned != FLOOR_MAXRATES or output_fps(facts.fps) != Fraction(30) or samples:
        sys.exit(f"the pipeline plans {planned} and {FINGERPRINT_SAMPLING}, the floor command uses "
                 f"{FLOOR_MAXRATES} and 8 fps 32×32 samples: not the same work")  # fmt: skip


def run_floor(source: Path, out_dir: Path) -> Cost:
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    argv = [arg.format(source=source, out=out_dir) for arg in FLOOR_ARGV]
    with measured() as cost:
        subprocess.run(
            [ffmpeg_binary(), *argv], check=True, preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
        )
    return cost


def run_pipeline(source: Path, out_dir: Path, facts: ProbeFacts) -> Cost:
    shutil.rmtree(out_dir, ignore_errors=True)
    with measured() as cost:
        asyncio.run(transcode_ladder(source, out_dir, facts, timeout_s=3600, samplings=[FINGERPRINT_SAMPLING]))
    return cost


def run_process_source(source: Path, out_dir: Path) -> Cost:
    shutil.rmtree(out_dir, ignore_errors=True)
    with measured() as cost:
        asyncio.run(process_source(source, out_dir, timeout_s=3600, samplings=[FINGERPRINT_SAMPLING]))
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5, help="floor/pipeline pairs (the rules ask for >= 5)")
    parser.add_argument("--seconds", type=int, default=30, help="length of the generated source")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "reels-bench")
    args = parser.parse_args()

    source = ensure_source(args.cache_dir, args.seconds)
    facts = asyncio.run(probe(source))
    print(f"source: {facts.width}x{facts.height}, {facts.fps:g} fps, {facts.duration_s:.1f} s, "
          f"{facts.bitrate / 1e6:.1f} Mb/s", flush=True)  # fmt: skip
    check_same_work(facts)

    work = Path(tempfile.mkdtemp(prefix="reels-bench-"))
    try:
        costs: dict[str, list[Cost]] = {"floor": [], "pipeline": [], "full": []}

        def paired(side: str, run: Callable[[], Cost]) -> Callable[[int], float]:
            def one(_: int) -> float:
                costs[side].append(run())
                return costs[side][-1].cpu_s

            return one

        def pipeline_then_full(n: int) -> float:
            cpu_s = paired("pipeline", lambda: run_pipeline(source, work / "pipeline", facts))(n)
            costs["full"].append(run_process_source(source, work / "full"))
            print(
                f"  process_source: {costs['full'][-1].wall_s:.2f} s, {costs['full'][-1].cpu_s:.1f} CPU-s", flush=True
            )
            return cpu_s

        values, floors = alternate(
            args.pairs, paired("floor", lambda: run_floor(source, work / "floor")), pipeline_then_full
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summary = pairwise(values, floors, higher_is_better=False)
    walls = [p.wall_s / f.wall_s for p, f in zip(costs["pipeline"], costs["floor"], strict=True)]
    pipeline_wall = statistics.median(c.wall_s for c in costs["pipeline"])
    full_walls = [c.wall_s for c in costs["full"]]
    full_wall = statistics.median(full_walls)
    full_cpu = statistics.median(c.cpu_s for c in costs["full"])
    # What probe, thumbnail and sound add to the one decode's work.
    full_of_floor = [full.cpu_s / floor.cpu_s for full, floor in zip(costs["full"], costs["floor"], strict=True)]
    print(f"ladder CPU: pipeline {summary['value']:.1f} s, floor {summary['floor']:.1f} s, ratio {summary['ratio']} "
          f"({summary['ratio_min']}-{summary['ratio_max']}, goal <= {GOAL}); wall ratio {statistics.median(walls):.3f}; "
          f"whole process_source {full_wall:.1f} s (median of {len(full_walls)}, {min(full_walls):.1f}-{max(full_walls):.1f}) = "
          f"{full_wall / facts.duration_s:.2f} x the clip's {facts.duration_s:.0f} s (goal <= {READY_GOAL})", flush=True)  # fmt: skip
    emit(
        {
            "bench": "transcode",
            **summary,
            "value": round(summary["value"], 2),
            "floor": round(summary["floor"], 2),
            "goal": GOAL,
            "samples": summary["pairs"],
            "wall_ratio": round(statistics.median(walls), 3),
            "pipeline_wall_s": round(pipeline_wall, 2),
            "process_source_s": round(full_wall, 2),
            "process_source_s_min": round(min(full_walls), 2),
            "process_source_s_max": round(max(full_walls), 2),
            "process_source_cpu_s": round(full_cpu, 2),
            "process_source_cpu_of_floor": round(statistics.median(full_of_floor), 3),
            "process_source_of_duration": round(full_wall / facts.duration_s, 3),
            # The wall time it could take on idle cores, all busy: the load-independent side of the goal.
            "process_source_cpu_of_duration": round(full_cpu / ((os.cpu_count() or 1) * facts.duration_s), 3),
            "ready_goal": READY_GOAL,
            "clip_seconds": round(facts.duration_s, 1),
        }
    )


if __name__ == "__main__":
    main()
