"""Locating FFmpeg and running it (or the probe) as a niced, time-limited child process.

Children run in their own session so a timeout or a cancelled job kills the whole process
group, and at a low CPU priority so transcodes never starve the API sharing the machine. On
Linux they also die with the worker: a SIGKILLed worker leaves no FFmpeg running (its job is
redone elsewhere, so the orphan's work would be wasted CPU).

The priority and the death signal are set by a small launcher that then becomes the program by
exec, never by Python code run in the forked child (`preexec_fn`): in a threaded process the
child inherits locks held by threads that do not exist in it, and the interpreter's own
after-fork cleanup can free an object whose destructor waits on one. That hung an avatar
request for good (PyAV's scaler joining its slice threads in the child).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import imageio_ffmpeg

from reels.media.errors import TranscodeError

NICENESS = 10
# Global options first on every FFmpeg command line: errors only, so stderr is the error message.
FFMPEG_GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error")
STDERR_TAIL_LINES = 12
STREAM_LINE_LIMIT = 1024 * 1024


# A fresh interpreter (isolated, no site) run as: launcher <parent pid> <niceness> <program> <args…>.
# It lowers its priority before the program starts (so every thread FFmpeg starts inherits it),
# on Linux asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG, 1) and checks that the
# parent did not die first, then execs the program in its own place: same pid, same group.
_LAUNCHER = """\
import os, sys
parent, niceness, program = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
os.setpriority(os.PRIO_PROCESS, 0, max(niceness, os.getpriority(os.PRIO_PROCESS, 0)))
if sys.platform == "linux":
    import ctypes, signal
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(1)
os.execv(program[0], program)
"""


def _launched(program: str, args: Sequence[str]) -> list[str]:
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), str(NICENESS), program, *args]


def ffmpeg_binary() -> str:
    """`FFMPEG_BINARY` when set, else the static build shipped in the imageio-ffmpeg wheel."""
    return os.environ.get("FFMPEG_BINARY") or imageio_ffmpeg.get_ffmpeg_exe()


class OutputSpec(Protocol):
    """What `ffmpeg_command` needs of an ffmpeg-python output node (the library has no types)."""

    def compile(self, cmd: list[str], overwrite_output: bool) -> list[str]: ...


def ffmpeg_command(spec: OutputSpec) -> list[str]:
    """Compile an ffmpeg-python output spec into an argv for `run_ffmpeg`."""
    return spec.compile(cmd=[ffmpeg_binary(), *FFMPEG_GLOBAL_ARGS], overwrite_output=True)


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr_tail: str


async def run_child(argv: Sequence[str], *, timeout_s: float, what: str, capture_stdout: bool = False) -> Finished:
    """Run `argv` niced in a new session; kill its process group on timeout or cancellation.

    Raises `TranscodeError` on timeout or when the program cannot be started; a non-zero exit
    is returned, not raised, so callers can tell crashes from errors.
    """
    program = shutil.which(argv[0])
    if program is None:
        raise TranscodeError(f"cannot start {what} ({argv[0]}): no such executable")
    try:
        proc = await asyncio.create_subprocess_exec(
            *_launched(program, argv[1:]),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if capture_stdout else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            limit=STREAM_LINE_LIMIT,
        )
    except OSError as exc:
        raise TranscodeError(f"cannot start {what} ({argv[0]}): {exc}") from exc
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    async def drain_stderr() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            tail.append(line.decode(errors="replace").rstrip())

    async def read_stdout() -> bytes:
        return await proc.stdout.read() if proc.stdout is not None else b""

    try:
        async with asyncio.timeout(timeout_s):
            stdout, _ = await asyncio.gather(read_stdout(), drain_stderr())
            returncode = await proc.wait()
    except TimeoutError:
        await _kill_group(proc)
        raise TranscodeError(f"{what} took longer than {timeout_s:g} s and was stopped") from None
    except BaseException:
        await _kill_group(proc)
        raise
    return Finished(returncode, stdout, "\n".join(tail))


async def run_ffmpeg(argv: Sequence[str], *, timeout_s: float, what: str) -> None:
    """Run an FFmpeg argv; raise `TranscodeError` carrying FFmpeg's own error lines on failure."""
    finished = await run_child(argv, timeout_s=timeout_s, what=what)
    if finished.returncode != 0:
        detail = finished.stderr_tail or "no error output"
        raise TranscodeError(f"{what} failed (FFmpeg exit status {finished.returncode}): {detail}")


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    await proc.wait()
