"""At-least-once processing: retries and dead letters (`reels jobs dead|retry`), and a worker
killed with SIGKILL mid-job whose reel another worker finishes, once."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reels.domain.models import Audio, Notification, NotificationKind
from reels.media.errors import TranscodeError
from reels.schema.globalid import db_id_of
from reels.settings import Settings
from reels.workers import media
from tests.pipeline.helpers import Clips, call, poll, reel, running, unique, upload, wait_for
from tests.services import stop

pytestmark = pytest.mark.services


SHARED_SETTINGS = (
    "data_dir", "database_url", "redis_url", "s3_endpoint_url", "s3_bucket", "s3_access_key_id",
    "s3_secret_access_key", "s3_region", "secret_key",
)  # fmt: skip


def cli_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `reels` command on the same services as `settings`."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    shared = {f"REELS_{name.upper()}": str(getattr(settings, name)) for name in SHARED_SETTINGS}
    return {
        **os.environ,
        **{name: value for name, value in shared.items() if value != "None"},
        "TMPDIR": str(scratch),  # a killed worker's scratch files stay in the test's folder
        **extra,
    }


def reels_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reels.cli", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def counts(platform, reel_id: str) -> tuple[int, int]:
    """(Audio rows made from the reel, REEL_READY notifications of the reel)."""
    db_id = db_id_of(reel_id, "Reel")
    async with platform.sessions() as session:
        sounds = await session.scalar(select(func.count()).select_from(Audio).where(Audio.original_reel_id == db_id))
        ready = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.reel_id == db_id, Notification.kind == NotificationKind.REEL_READY)
        )
    return sounds, ready


def test_a_job_failing_every_try_is_dead_lettered_and_can_be_retried(
    redis_local_settings: Settings, clips: Clips, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = redis_local_settings
    env = cli_env(settings, tmp_path)
    attempts = []

    async def crashing(*args: object, **kwargs: object) -> None:
        attempts.append(1)
        raise TranscodeError("HLS ladder transcode failed (FFmpeg exit status -11): crashed")

    monkeypatch.setattr(media, "process_source", crashing)
    with running(settings) as api:
        token, _ = api.register("jinxed")
        reel_id = upload(api, token, clips.small)
        failed = wait_for(api, reel_id, token, {"FAILED"})
        assert failed["statusReason"] == "processing failed after 3 tries"
        assert len(attempts) == 3

        listed = reels_cli(env, "jobs", "dead")
        assert listed.returncode == 0, listed.stderr
        (line,) = listed.stdout.splitlines()
        letter_id = line.split()[0]
        assert re.fullmatch(r"\d+-\d+", letter_id)
        assert f'"reel_id": {db_id_of(reel_id, "Reel")}' in line and "attempts=3" in line and "crashed" in line

        monkeypatch.undo()  # FFmpeg works again
        assert reels_cli(env, "jobs", "retry", "0-1").returncode == 1  # unknown id
        retried = reels_cli(env, "jobs", "retry", letter_id)
        assert retried.returncode == 0 and f"queued {letter_id} again" in retried.stdout, retried.stderr
        assert wait_for(api, reel_id, token, {"READY"})["statusReason"] is None
        assert reels_cli(env, "jobs", "dead").stdout.strip() == "no dead-lettered media jobs"


def descendants(pid: int) -> list[int]:
    """Child processes of `pid`, recursively (FFmpeg and the probe run in sessions of their own)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def test_a_job_of_a_sigkilled_worker_is_finished_by_another_worker_once(
    services_settings: Settings, clips: Clips, tmp_path: Path
) -> None:
    settings = services_settings  # S3, Redis and PostgreSQL, shared by the API and both workers
    env = cli_env(settings, tmp_path, REELS_JOB_CLAIM_IDLE_S="2")
    log = (tmp_path / "workers.log").open("w")

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "reels.cli", "worker"], env=env, stdout=log, stderr=log)

    with running(settings, workers=False) as api:  # the API alone; workers are other processes
        token, _ = api.register(unique("survivor"))
        first = start_worker()
        try:
            reel_id = upload(api, token, clips.two_parts)
            wait_for(api, reel_id, token, {"PROCESSING"})
            children = descendants(first.pid)
            first.send_signal(signal.SIGKILL)
            first.wait()
            for child in children:  # its FFmpeg dies with it (tests/media/test_runner.py shows that); be sure
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            assert reel(api, reel_id, token)["status"] == "PROCESSING"

            second = start_worker()
            try:
                ready = wait_for(api, reel_id, token, {"READY"})
                assert ready["playback"] is not None
                assert poll(lambda: call(api, counts, reel_id) == (1, 1), "one sound, one notification")
            finally:
                stop(second)
        finally:
            if first.poll() is None:
                stop(first)
            log.close()
