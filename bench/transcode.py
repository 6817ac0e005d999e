"""Transcode benchmark: the pipeline's HLS ladder step against a hand-written FFmpeg command.

    .venv/bin/python bench/transcode.py [--repeat N] [--cache-dir DIR]

Generates (once, cached) a 30 s 1080×1920 30 fps clip with sound, then times, in the same
run and alternating, (a) `reels.media.ladder.transcode_ladder` — argv built with ffmpeg-python,
niced child process, playlist post-processing — and (b) the literal FFmpeg argv below with the
same ladder settings, the floor, run at the same niceness so that on a busy machine both lose
the same share of CPU to other work. Best of N each. Prints the wall times, then as the LAST line:
{"bench": "transcode", "value": <pipeline s>, "floor": <hand s>, "ratio": <value/floor>}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from reels.media.ladder import output_fps, plan_ladder, transcode_ladder
from reels.media.pipeline import process_source
from reels.media.probe import probe
from reels.media.runner import NICENESS, ffmpeg_binary

SOURCE_NAME = "source-1080x1920-30fps-30s.mp4"
# Sensor-like noise and a phone-like 12 Mb/s, so the decode and encode work resembles an upload.
SOURCE_ARGV = [
    "-f", "lavfi", "-i", "testsrc2=s=1080x1920:r=30:d=30",
    "-f", "lavfi", "-i", "sine=f=440:d=30:sample_rate=48000",
    "-vf", "noise=alls=4:allf=t",
    "-c:v", "libx264", "-preset", "veryfast", "-b:v", "12M", "-maxrate", "14M", "-bufsize", "24M", "-pix_fmt", "yuv420p",
    "-c:a", "aac", "-b:a", "128k", "-shortest",
]  # fmt: skip

# The floor: the ladder a person would type for this source (720/480/360/240 short side,
# PeerTube bpp maxrates at 30 fps, the same GOP/B-frame/HLS settings as the pipeline).
FLOOR_MAXRATES = (521_424, 1_036_800, 1_472_256, 3_041_280)
FLOOR_ARGV = [
    "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
    "-i", "{source}",
    "-filter_complex",
    "[0:V:0]fps=fps=30,split=4[a][b][c][d];"
    "[a]scale=240:426,format=yuv420p[v0];[b]scale=360:640,format=yuv420p[v1];"
    "[c]scale=480:852,format=yuv420p[v2];[d]scale=720:1280,format=yuv420p[v3];"
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
]  # fmt: skip


def ensure_source(cache_dir: Path) -> Path:
    source = cache_dir / SOURCE_NAME
    if not source.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {source} (once) ...", flush=True)
        partial = source.with_suffix(".part.mp4")
        subprocess.run(
            [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *SOURCE_ARGV, str(partial)], check=True
        )
        partial.rename(source)
    return source


def run_floor(source: Path, out_dir: Path) -> float:
    shutil.rmtree(out_dir, ignore_errors=True)
    argv = [arg.format(source=source, out=out_dir) for arg in FLOOR_ARGV]
    started = time.perf_counter()
    subprocess.run(
        [ffmpeg_binary(), *argv], check=True, preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
    )
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each command; the best counts (default 2)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "reels-bench")
    args = parser.parse_args()

    source = ensure_source(args.cache_dir)
    started = time.perf_counter()
    facts = await probe(source)
    print(f"probe: {time.perf_counter() - started:.2f} s  ({facts.width}x{facts.height}, {facts.fps:g} fps, "
          f"{facts.duration_s:.1f} s, {facts.bitrate / 1e6:.1f} Mb/s)")  # fmt: skip
    planned = tuple(rung.video_maxrate for rung in plan_ladder(facts, output_fps(facts.fps)))
    if planned != FLOOR_MAXRATES or output_fps(facts.fps) != Fraction(30):
        sys.exit(f"the pipeline plans {planned}, the floor command uses {FLOOR_MAXRATES}: not the same work")

    work = Path(tempfile.mkdtemp(prefix="reels-bench-"))
    try:
        floors, pipelines = [], []
        for attempt in range(1, args.repeat + 1):
            floors.append(run_floor(source, work / "floor"))
            pipeline_out = work / "pipeline"
            shutil.rmtree(pipeline_out, ignore_errors=True)
            started = time.perf_counter()
            await transcode_ladder(source, pipeline_out, facts, timeout_s=3600)
            pipelines.append(time.perf_counter() - started)
            print(
                f"run {attempt}: hand-written FFmpeg {floors[-1]:.2f} s, pipeline ladder {pipelines[-1]:.2f} s",
                flush=True,
            )

        started = time.perf_counter()
        await process_source(source, work / "full", timeout_s=3600)
        full = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    value, floor = min(pipelines), min(floors)
    print(f"best: pipeline ladder {value:.2f} s, floor {floor:.2f} s "
          f"({value / facts.duration_s:.2f} × real time); whole process_source {full:.2f} s")  # fmt: skip
    print(
        json.dumps(
            {"bench": "transcode", "value": round(value, 3), "floor": round(floor, 3), "ratio": round(value / floor, 3)}
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
