"""The stacks the pipeline runs on (embedded, and S3 + Redis + PostgreSQL) and the test clips."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reels.migrate import upgrade
from reels.ports.objectstore import MIN_PART_BYTES
from reels.settings import Settings
from tests.media.clips import H264, make, sine, testsrc
from tests.pipeline.helpers import SECRET, Clips, Stack
from tests.services.s3 import S3Service

# A Redis database of our own, flushed before each test: the session's Redis is shared with
# the port contract tests (database 0), and leftover jobs must not reach the next test.
REDIS_DB = 3


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    root = tmp_path_factory.mktemp("pipeline-clips")
    clips = Clips(*(root / name for name in (
        "two_parts.mp4", "small.mp4", "silent.mp4", "random.mp4", "truncated.mp4", "audio_only.m4a", "too_long.mp4",
    )))  # fmt: skip
    # Noise at a constant 14 Mb/s: a real 4 s clip over one 5 MiB part, so it uploads in two.
    make(
        "-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=4,noise=alls=60:allf=t", *sine(440, 4), *H264,
        "-b:v", "14M", "-minrate", "14M", "-maxrate", "14M", "-bufsize", "4M", "-x264-params", "nal-hrd=cbr",
        "-c:a", "aac", "-shortest", str(clips.two_parts),
    )  # fmt: skip
    assert MIN_PART_BYTES < clips.two_parts.stat().st_size < 2 * MIN_PART_BYTES
    make(*testsrc("360x640", 30, 2), *sine(660, 2), *H264, "-c:a", "aac", "-shortest", str(clips.small))
    make(*testsrc("360x640", 30, 2), *H264, str(clips.silent))
    clips.random_bytes.write_bytes(os.urandom(64 * 1024))
    data = clips.small.read_bytes()  # the index (moov) is at the end: half the file has none
    clips.truncated.write_bytes(data[: len(data) // 2])
    make(*sine(440, 2), "-c:a", "aac", str(clips.audio_only))
    make(*testsrc("64x112", 1, 95), *H264, str(clips.too_long))
    return clips


@pytest.fixture(scope="session")
def pipeline_postgres_url(postgres_server_url: str) -> str:
    """The session's PostgreSQL database, migrated (upgrading is idempotent)."""
    upgrade(Settings(database_url=postgres_server_url).resolved_database_url)
    return postgres_server_url


def _flushed(redis_url: str) -> str:
    from redis import Redis

    url = f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}"
    with Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture
def services_settings(tmp_path: Path, s3_server: S3Service, redis_url: str, pipeline_postgres_url: str) -> Settings:
    """S3 (moto) for media, Redis for the queue, cache and pub/sub, PostgreSQL for the rows."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=pipeline_postgres_url,
        redis_url=_flushed(redis_url),
        secret_key=SECRET,
        upload_part_bytes=MIN_PART_BYTES,
        **s3_server.settings(),
    )


@pytest.fixture
def redis_local_settings(tmp_path: Path, migrated_sqlite: Path, redis_url: str) -> Settings:
    """A Redis queue shared between processes, SQLite and media on local disk in the data dir."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    shutil.copy(migrated_sqlite, data_dir / "reels.db")
    return Settings(
        data_dir=data_dir, redis_url=_flushed(redis_url), secret_key=SECRET, upload_part_bytes=MIN_PART_BYTES
    )


@pytest.fixture(params=["embedded", pytest.param("services", marks=pytest.mark.services)])
def stack(request: pytest.FixtureRequest, embedded_settings: Settings) -> Stack:
    if request.param == "embedded":
        return Stack("embedded", embedded_settings.model_copy(update={"upload_part_bytes": MIN_PART_BYTES}))
    return Stack("services", request.getfixturevalue("services_settings"))
