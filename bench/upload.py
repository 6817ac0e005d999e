"""Upload benchmark: from createUpload to READY, through a real server, as a creator waits for it.

    .venv/bin/python bench/upload.py [--durations 30] [--repeat 5] [--cache-dir DIR]

Generates (once, cached) phone-like 1080×1920 30 fps clips with sound at 12 Mb/s, starts
`reels migrate` + `reels serve` (+ `reels worker` when REELS_* variables configure services) on a
free port with a fresh data dir, registers a user, then per clip, --repeat times, A B:

A. the floor: a scratch createUpload (not timed), then raw PUTs of the same bytes (read into
   memory first) to its presigned part URLs, one keep-alive client (what moving the bytes
   costs), then bench/transcode.py's hand-written one-decode ladder of the clip (the work that
   READY waits for, written independently of the pipeline; no thumbnail, preview or sound);
B. the client's path: createUpload, the PUT of every part (reels.upload_client), completeUpload
   (the "upload" phase, against A), then polls `reel(id:)` every 50 ms until READY ("processing":
   queue, probe, thumbnail, preview, sound, the ladder, storing the outputs, the READY commit),
   noting when the client first sees PROCESSING and a thumbnail URL.

Uploads run one at a time. Every run counts: percentiles over the repeats, not the best of N.
Last line (bench/common.py): {"bench": "upload", "value": <median upload→READY s of the longest
 clip>, "floor": <median floor s>, "ratio": <median of pairwise READY/floor>, "samples": <runs>,
 "clips": {"<seconds>": {"total_s_p50", "ready_of_duration", "upload_of_reference",
 "thumbnail_after_start_s_p50", ...}}}
Goals: a 30 s clip READY within 0.6 × its duration; its thumbnail within 2 s of processing starting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from common import check_pairs, emit, free_port, pairwise, percentile, start_reels, stop_all
from transcode import check_same_work, run_floor

from reels.media.probe import probe
from reels.media.runner import ffmpeg_binary
from reels.settings import Settings
from reels.upload_client import put_parts

READY_POLL_S = 0.05
READY_TIMEOUT_S = 900
READY_GOAL = 0.6  # of the clip's duration
THUMBNAIL_GOAL_S = 2.0


def source_argv(seconds: int) -> list[str]:
    # Sensor-like noise and a phone-like bitrate, as in bench/transcode.py.
    return [
        "-f", "lavfi", "-i", f"testsrc2=s=1080x1920:r=30:d={seconds}",
        "-f", "lavfi", "-i", f"sine=f=440:d={seconds}:sample_rate=48000",
        "-vf", "noise=alls=4:allf=t",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "12M", "-maxrate", "14M", "-bufsize", "24M",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart",
    ]  # fmt: skip


def ensure_clip(cache_dir: Path, seconds: int) -> Path:
    clip = cache_dir / f"upload-1080x1920-30fps-{seconds}s.mp4"
    if not clip.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {clip} (once) ...", flush=True)
        partial = clip.with_suffix(".part.mp4")
        argv = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *source_argv(seconds), str(partial)]
        subprocess.run(argv, check=True)
        partial.rename(clip)
    return clip


async def graphql(client: httpx.AsyncClient, query: str, variables: dict, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


REGISTER = "mutation R($i: RegisterInput!) { register(input: $i) { token userErrors { message } } }"
CREATE = """mutation C($i: CreateUploadInput!) { createUpload(input: $i) {
  reel { id } uploadId partSize parts { partNumber url } userErrors { message } } }"""
COMPLETE = "mutation D($i: CompleteUploadInput!) { completeUpload(input: $i) { reel { id } userErrors { message } } }"
STATUS = "query S($id: ID!) { reel(id: $id) { status statusReason thumbnailUrl } }"


async def create_upload(client: httpx.AsyncClient, token: str, clip: Path) -> dict[str, Any]:
    created = (
        await graphql(client, CREATE, {"i": {"fileSize": clip.stat().st_size, "contentType": "video/mp4"}}, token)
    )["createUpload"]
    if created["userErrors"]:
        raise RuntimeError(created["userErrors"])
    return created


async def floor_run(client: httpx.AsyncClient, token: str, clip: Path, out_dir: Path) -> dict[str, float]:
    """Seconds to PUT the clip's bytes, already in memory, to a scratch upload's part URLs, and
    then to encode the hand-written ladder of the clip."""
    created = await create_upload(client, token, clip)
    data = clip.read_bytes()
    size = created["partSize"]
    async with httpx.AsyncClient(timeout=120) as storage:
        started = time.perf_counter()
        for part in created["parts"]:
            offset = (part["partNumber"] - 1) * size
            (await storage.put(part["url"], content=data[offset : offset + size])).raise_for_status()
    put_s = time.perf_counter() - started
    ladder = await asyncio.to_thread(run_floor, clip, out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    return {"put_s": round(put_s, 3), "ladder_s": round(ladder.wall_s, 3), "total_s": round(put_s + ladder.wall_s, 3)}


async def upload_until_ready(client: httpx.AsyncClient, token: str, clip: Path) -> dict[str, float]:
    started = time.perf_counter()
    created = await create_upload(client, token, clip)
    parts = [SimpleNamespace(part_number=p["partNumber"], url=p["url"]) for p in created["parts"]]
    async with httpx.AsyncClient(timeout=120) as storage:
        etags = await put_parts(storage, clip, created["partSize"], parts)
    completed = (
        await graphql(
            client,
            COMPLETE,
            {"i": {"uploadId": created["uploadId"], "parts": [{"partNumber": n, "etag": e} for n, e in etags]}},
            token,
        )
    )["completeUpload"]
    if completed["userErrors"]:
        raise RuntimeError(completed["userErrors"])
    uploaded = time.perf_counter()
    reel_id = created["reel"]["id"]
    processing = thumbnail = None
    while True:
        reel = (await graphql(client, STATUS, {"id": reel_id}, token))["reel"]
        seen = time.perf_counter()
        if processing is None and reel["status"] in ("PROCESSING", "READY"):
            processing = seen
        if thumbnail is None and reel["thumbnailUrl"]:
            thumbnail = seen
        if reel["status"] == "READY":
            break
        if reel["status"] == "FAILED" or time.perf_counter() - uploaded > READY_TIMEOUT_S:
            raise RuntimeError(f"reel {reel_id} ended {reel['status']}: {reel['statusReason']}")
        await asyncio.sleep(READY_POLL_S)
    ready = time.perf_counter()
    return {
        "size_mb": round(clip.stat().st_size / 1e6, 1),
        "parts": len(parts),
        "upload_s": round(uploaded - started, 3),
        "processing_s": round(ready - uploaded, 3),
        "total_s": round(ready - started, 3),
        "thumbnail_after_complete_s": round((thumbnail or ready) - uploaded, 3),
        "thumbnail_after_start_s": round((thumbnail or ready) - (processing or uploaded), 3),
    }


def summarize(seconds: int, runs: list[dict[str, float]], floors: list[dict[str, float]]) -> dict[str, Any]:
    totals = [run["total_s"] for run in runs]
    thumbnails = [run["thumbnail_after_start_s"] for run in runs]
    ready = pairwise(totals, [floor["total_s"] for floor in floors], higher_is_better=False)
    upload = pairwise([run["upload_s"] for run in runs], [floor["put_s"] for floor in floors], higher_is_better=False)
    return {
        "size_mb": runs[0]["size_mb"],
        "parts": runs[0]["parts"],
        "runs": len(runs),
        "floor_s_p50": round(ready["floor"], 3),
        "floor_ladder_s_p50": round(statistics.median(floor["ladder_s"] for floor in floors), 3),
        "ready_of_floor": ready["ratio"],
        "ready_of_floor_min": ready["ratio_min"],
        "ready_of_floor_max": ready["ratio_max"],
        "upload_s_p50": round(upload["value"], 3),
        "reference_put_s_p50": round(upload["floor"], 3),
        "upload_of_reference": upload["ratio"],
        "upload_of_reference_min": upload["ratio_min"],
        "upload_of_reference_max": upload["ratio_max"],
        "processing_s_p50": round(statistics.median(run["processing_s"] for run in runs), 3),
        "total_s_p50": round(statistics.median(totals), 3),
        "total_s_max": round(max(totals), 3),
        "ready_of_duration": round(statistics.median(totals) / seconds, 3),
        "thumbnail_after_start_s_p50": round(statistics.median(thumbnails), 3),
        "thumbnail_after_start_s_p90": round(percentile(thumbnails, 0.9), 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--durations", type=int, nargs="+", default=[30], help="clip lengths in seconds")
    parser.add_argument("--repeat", type=int, default=5, help="floor/upload pairs per clip (the rules ask for >= 5)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "reels-bench")
    args = parser.parse_args()
    check_pairs(args.repeat)
    clips = {seconds: ensure_clip(args.cache_dir, seconds) for seconds in args.durations}
    for clip in clips.values():
        check_same_work(await probe(clip))

    work = Path(tempfile.mkdtemp(prefix="reels-bench-upload-"))
    port = free_port()
    env = {"REELS_DATA_DIR": str(work / "var"), "REELS_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    log = work / "server.log"
    migrate = [sys.executable, "-m", "reels.cli", "migrate"]
    subprocess.run(migrate, env={**os.environ, **env}, check=True, capture_output=True)
    processes = [start_reels(["serve", "--port", str(port)], env, log)]
    if not Settings(data_dir=work / "var").embedded:  # services: the API does not transcode
        processes.append(start_reels(["worker"], env, log))
    results: dict[str, dict[str, Any]] = {}
    pairs: dict[int, tuple[list[dict[str, float]], list[dict[str, float]]]] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await wait_ready(client, log)
            token = (await graphql(client, REGISTER, {"i": {"username": "bencher", "password": "bench password"}}))[
                "register"
            ]["token"]
            for seconds, clip in clips.items():
                runs, floors = pairs.setdefault(seconds, ([], []))
                for _ in range(args.repeat):
                    floors.append(await floor_run(client, token, clip, work / "floor"))
                    runs.append(await upload_until_ready(client, token, clip))
                    print(
                        f"{seconds} s clip: floor {json.dumps(floors[-1])}, upload {json.dumps(runs[-1])}", flush=True
                    )
                results[str(seconds)] = summarize(seconds, runs, floors)
                print(f"{seconds} s clip: {json.dumps(results[str(seconds)])}", flush=True)
    finally:
        stop_all(processes)
    shutil.rmtree(work, ignore_errors=True)
    longest = max(clips)
    runs, floors = pairs[longest]
    ready = pairwise([run["total_s"] for run in runs], [floor["total_s"] for floor in floors], higher_is_better=False)
    emit(
        {
            "bench": "upload",
            "value": results[str(longest)]["total_s_p50"],
            "floor": round(ready["floor"], 3),
            "ratio": ready["ratio"],
            "ratio_min": ready["ratio_min"],
            "ratio_max": ready["ratio_max"],
            "samples": len(runs),
            "clip_seconds": longest,
            "ready_of_duration": results[str(longest)]["ready_of_duration"],
            "thumbnail_after_start_s": results[str(longest)]["thumbnail_after_start_s_p50"],
            "goals": {"ready_of_duration": READY_GOAL, "thumbnail_after_start_s": THUMBNAIL_GOAL_S},
            "clips": results,
        }
    )


async def wait_ready(client: httpx.AsyncClient, log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    sys.exit(f"the server did not start; see {log}")


if __name__ == "__main__":
    asyncio.run(main())
