"""Running FFmpeg: binary selection, readable errors, low priority, and killing on timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
import pytest

from reels.media import TranscodeError
from reels.media.runner import NICENESS, ffmpeg_binary, run_ffmpeg


def processes_mentioning(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:  # exited while we looked
                continue
    return pids


def test_the_binary_comes_from_ffmpeg_binary_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFMPEG_BINARY", "/opt/ffmpeg/bin/ffmpeg")
    assert ffmpeg_binary() == "/opt/ffmpeg/bin/ffmpeg"

    monkeypatch.delenv("FFMPEG_BINARY")
    assert ffmpeg_binary() == imageio_ffmpeg.get_ffmpeg_exe()


async def test_a_missing_binary_is_a_transcode_error(tmp_path: Path) -> None:
    with pytest.raises(TranscodeError, match="cannot start"):
        await run_ffmpeg([str(tmp_path / "no-ffmpeg"), "-version"], timeout_s=5, what="test run")


async def test_ffmpeg_failures_carry_ffmpegs_own_message(tmp_path: Path) -> None:
    argv = [
        ffmpeg_binary(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        str(tmp_path / "missing.mp4"),
        "-f",
        "null",
        "-",
    ]

    with pytest.raises(TranscodeError, match="No such file or directory"):
        await run_ffmpeg(argv, timeout_s=10, what="test run")


async def test_ffmpeg_runs_niced_in_its_own_group_and_is_killed_on_timeout(tmp_path: Path) -> None:
    marker = f"reels-timeout-{os.getpid()}-{time.monotonic_ns()}"
    endless = [ffmpeg_binary(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=64x64", "-f", "null", marker]
    run = asyncio.create_task(run_ffmpeg(endless, timeout_s=2, what="endless run"))

    deadline = time.monotonic() + 1.5
    while not (pids := processes_mentioning(marker)) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert len(pids) == 1, "FFmpeg did not start"
    (pid,) = pids
    assert os.getpgid(pid) == pid, "FFmpeg should lead its own process group"
    assert os.getpriority(os.PRIO_PROCESS, pid) >= NICENESS

    with pytest.raises(TranscodeError, match="endless run took longer than 2 s"):
        await run
    assert processes_mentioning(marker) == []


async def test_a_cancelled_run_kills_ffmpeg(tmp_path: Path) -> None:
    marker = f"reels-cancel-{os.getpid()}-{time.monotonic_ns()}"
    endless = [ffmpeg_binary(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=64x64", "-f", "null", marker]
    run = asyncio.create_task(run_ffmpeg(endless, timeout_s=60, what="endless run"))
    deadline = time.monotonic() + 5
    while not processes_mentioning(marker) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert processes_mentioning(marker) == []


def test_ffmpeg_dies_with_a_killed_worker() -> None:
    """A SIGKILLed worker cannot clean up: its FFmpeg must not keep transcoding a job that
    another worker redoes."""
    marker = f"reels-orphan-{os.getpid()}-{time.monotonic_ns()}"
    # The marker reaches the worker through its environment, so only FFmpeg's command line names it.
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import asyncio, os\n"
                "from reels.media.runner import ffmpeg_binary, run_ffmpeg\n"
                "argv = [ffmpeg_binary(), '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=64x64', '-f', 'null',"
                " os.environ['MARKER']]\n"
                "asyncio.run(run_ffmpeg(argv, timeout_s=600, what='endless run'))\n"
            ),
        ],
        env={**os.environ, "MARKER": marker},
    )
    try:
        deadline = time.monotonic() + 20
        while not processes_mentioning(marker):
            assert time.monotonic() < deadline, "FFmpeg did not start"
            time.sleep(0.02)
        worker.kill()
        worker.wait()
        deadline = time.monotonic() + 20  # an orphan would run for the job's whole 600 s limit
        while processes_mentioning(marker):
            assert time.monotonic() < deadline, "FFmpeg outlived its worker"
            time.sleep(0.02)
    finally:
        for pid in processes_mentioning(marker):
            os.kill(pid, signal.SIGKILL)


def test_a_child_starts_while_another_thread_holds_a_lock_its_objects_wait_on() -> None:
    """Nothing of the parent's Python runs in the forked child. If it did (as `preexec_fn`
    does), the interpreter's after-fork cleanup would free the main thread's thread-local
    trap in the child, whose destructor waits for a lock held by a thread the child does not
    have: the child never reaches exec and the parent waits for it for good. PyAV's scaler did
    just that to an avatar request."""
    script = (
        "import asyncio, sys, threading\n"
        "from reels.media.runner import run_child\n"
        "held = threading.Lock()\n"
        "class Trap:\n"
        "    def __del__(self):\n"
        "        held.acquire()\n"
        "local = threading.local()\n"
        "local.trap = Trap()\n"
        "held.acquire()\n"
        "async def main():\n"
        "    argv = [sys.executable, '-c', 'print(\"ran\")']\n"
        "    finished = await run_child(argv, timeout_s=60, what='child', capture_stdout=True)\n"
        "    print(finished.stdout.decode().strip())\n"
        "thread = threading.Thread(target=lambda: asyncio.run(main()))\n"
        "thread.start()\n"
        "thread.join()\n"
        "held.release()\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the child never started: the forked child ran the parent's Python")
    assert (done.returncode, done.stdout.strip()) == (0, "ran"), done.stderr
