"""Upload benchmark: from createUpload to READY, through a real server, as a creator waits for it.

    .venv/bin/python bench/upload.py [--durations 30] [--repeat 5] [--cache-dir DIR]

Generates (once, cached) phone-like 1080×1920 30 fps clips with sound at 12 Mb/s, starts
`reels migrate` + `reels serve` (+ `reels worker` when REELS_* variables configure services) on a
free port with a fresh data dir, registers a user, then per clip, --repeat times, A B:

A. the floor: a scratch createUpload (not timed), then raw PUTs of the same bytes (read into
   memory first) to its presigned part URLs, one keep-alive client (what moving the bytes
   costs), then bench/transcode.py's hand-written one-decode FFmpeg command of the clip (the
   four rungs, the preview and the fingerprint samples: the work READY waits for, written
   independently of the pipeline; no probe, thumbnail, sound, storing or checks);
B. the client's path: createUpload, a `reelStatus` subscription (graphql-transport-ws, the
   public API a client waits with), the PUT of every part (reels.upload_client),
   completeUpload (the "upload" phase, against A's PUTs), then the subscription's events until
   READY ("processing": queue, probe, thumbnail, the ladder, sound, checks, storing the outputs,
   the READY commit), noting when the client is told of PROCESSING and of a thumbnail URL. The
   first event must be UPLOADED, which proves the subscription was live before anything it
   times happened (else the run stops).

CPU: for A, the ladder command's CPU-seconds plus what the platform's processes spent receiving
the PUTs; for B, what the platform's processes (API and worker, with the FFmpeg and probe
children they reaped) spent from createUpload to READY, from /proc.
Uploads run one at a time. Every run counts: percentiles over the repeats, not the best of N.
Last line (bench/common.py): {"bench": "upload", "value": <median upload→READY s of the longest
 clip>, "floor": <median floor s>, "ratio": <median of pairwise READY/floor>, "samples": <runs>,
 "clips": {"<seconds>": {"total_s_p50", "ready_of_duration", "cpu_of_floor", "upload_of_reference",
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
from websockets.asyncio.client import connect

from reels.media.probe import probe
from reels.media.runner import ffmpeg_binary
from reels.settings import Settings
from reels.upload_client import put_parts

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
DELETE = "mutation X($i: ReelInput!) { deleteReel(input: $i) { userErrors { message } } }"
STATUS = "subscription S($id: ID!) { reelStatus(reelId: $id) { status statusReason thumbnailUrl } }"


def tree_cpu_s(pids: list[int]) -> float:
    """CPU-seconds (user + system) the processes `pids` and the children they reaped have used
    so far, from /proc (Linux): FFmpeg and the probe run as children of the worker."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(field) for field in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


async def create_upload(client: httpx.AsyncClient, token: str, clip: Path) -> dict[str, Any]:
    created = (
        await graphql(client, CREATE, {"i": {"fileSize": clip.stat().st_size, "contentType": "video/mp4"}}, token)
    )["createUpload"]
    if created["userErrors"]:
        raise RuntimeError(created["userErrors"])
    return created


async def floor_run(
    client: httpx.AsyncClient, token: str, clip: Path, out_dir: Path, platform: list[int]
) -> dict[str, float]:
    """Seconds and CPU-seconds to PUT the clip's bytes, already in memory, to a scratch upload's
    part URLs, and then to run the hand-written ladder command of the clip."""
    created = await create_upload(client, token, clip)
    data = clip.read_bytes()
    size = created["partSize"]
    async with httpx.AsyncClient(timeout=120) as storage:
        cpu_before = tree_cpu_s(platform)
        started = time.perf_counter()
        for part in created["parts"]:
            offset = (part["partNumber"] - 1) * size
            (await storage.put(part["url"], content=data[offset : offset + size])).raise_for_status()
    put_s = time.perf_counter() - started
    put_cpu_s = tree_cpu_s(platform) - cpu_before
    # An account holds few uploads in progress: the scratch one goes before the next run.
    deleted = (await graphql(client, DELETE, {"i": {"reelId": created["reel"]["id"]}}, token))["deleteReel"]
    if deleted["userErrors"]:
        raise RuntimeError(deleted["userErrors"])
    ladder = await asyncio.to_thread(run_floor, clip, out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "put_s": round(put_s, 3),
        "ladder_s": round(ladder.wall_s, 3),
        "total_s": round(put_s + ladder.wall_s, 3),
        "cpu_s": round(put_cpu_s + ladder.cpu_s, 2),
    }


async def upload_until_ready(
    client: httpx.AsyncClient, ws_url: str, token: str, clip: Path, platform: list[int]
) -> dict[str, float]:
    cpu_before = tree_cpu_s(platform)
    started = time.perf_counter()
    created = await create_upload(client, token, clip)
    reel_id = created["reel"]["id"]
    async with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        if json.loads(await ws.recv())["type"] != "connection_ack":
            raise RuntimeError("the subscription socket was not acknowledged")
        subscribe = {"query": STATUS, "variables": {"id": reel_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
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
        statuses: list[str] = []
        processing = thumbnail = None
        async with asyncio.timeout(READY_TIMEOUT_S):
            while not statuses or statuses[-1] not in ("READY", "FAILED", "BLOCKED", "HELD"):
                message = json.loads(await ws.recv())
                seen = time.perf_counter()
                if message["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                    continue
                if message["type"] != "next" or message["payload"].get("errors"):
                    raise RuntimeError(f"reel {reel_id}: {message}")
                reel = message["payload"]["data"]["reelStatus"]
                statuses.append(reel["status"])
                if processing is None and reel["status"] != "UPLOADED":
                    processing = seen
                if thumbnail is None and reel["thumbnailUrl"]:
                    thumbnail = seen
    ready = time.perf_counter()
    cpu_s = tree_cpu_s(platform) - cpu_before
    if statuses[0] != "UPLOADED":
        raise RuntimeError(f"reel {reel_id}: the subscription was not live before completeUpload ({statuses})")
    if statuses[-1] != "READY":
        raise RuntimeError(f"reel {reel_id} ended {statuses[-1]}: {reel['statusReason']}")
    return {
        "size_mb": round(clip.stat().st_size / 1e6, 1),
        "parts": len(parts),
        "upload_s": round(uploaded - started, 3),
        "processing_s": round(ready - uploaded, 3),
        "total_s": round(ready - started, 3),
        "cpu_s": round(cpu_s, 2),
        "thumbnail_after_complete_s": round((thumbnail or ready) - uploaded, 3),
        "thumbnail_after_start_s": round((thumbnail or ready) - (processing or uploaded), 3),
        "thumbnail_before_ready": thumbnail is not None and thumbnail < ready,
    }


def summarize(seconds: int, runs: list[dict[str, float]], floors: list[dict[str, float]]) -> dict[str, Any]:
    totals = [run["total_s"] for run in runs]
    thumbnails = [run["thumbnail_after_start_s"] for run in runs]
    ready = pairwise(totals, [floor["total_s"] for floor in floors], higher_is_better=False)
    upload = pairwise([run["upload_s"] for run in runs], [floor["put_s"] for floor in floors], higher_is_better=False)
    cpu = pairwise([run["cpu_s"] for run in runs], [floor["cpu_s"] for floor in floors], higher_is_better=False)
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
        "cpu_s_p50": round(cpu["value"], 2),
        "floor_cpu_s_p50": round(cpu["floor"], 2),
        "cpu_of_floor": cpu["ratio"],
        "cpu_of_floor_min": cpu["ratio_min"],
        "cpu_of_floor_max": cpu["ratio_max"],
        # CPU-seconds over the cores against the clip: READY's wall time on idle cores kept busy,
        # which other work on the machine does not stretch.
        "cpu_of_duration": round(cpu["value"] / ((os.cpu_count() or 1) * seconds), 3),
        "thumbnails_before_ready": sum(bool(run["thumbnail_before_ready"]) for run in runs),
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
    platform = [process.pid for process in processes]
    ws_url = f"ws://127.0.0.1:{port}/graphql"
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
                    floors.append(await floor_run(client, token, clip, work / "floor", platform))
                    runs.append(await upload_until_ready(client, ws_url, token, clip, platform))
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
            "cpu_of_duration": results[str(longest)]["cpu_of_duration"],
            "cpu_of_floor": results[str(longest)]["cpu_of_floor"],
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
