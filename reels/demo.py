"""`reels demo`: seed a fresh data dir with users and real transcoded reels.

The reels go through the same path as a creator's: createUpload (reel INIT + multipart upload),
the bytes into the object store, completeUpload (UPLOADED + a queued job), then the media
worker's own `process` (FFmpeg ladder, thumbnail, preview, sound) until READY.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import typer
from sqlalchemy import select
from starlette.applications import Starlette

from reels.domain import accounts, social, uploads
from reels.domain.models import Role, User, Visibility
from reels.http.media_routes import media_routes
from reels.media.runner import ffmpeg_binary, run_ffmpeg
from reels.platform import Platform
from reels.settings import Settings
from reels.upload_client import put_parts
from reels.workers import media

DEMO_PASSWORD = "reels-demo-password"


@dataclass(frozen=True)
class DemoReel:
    creator: str
    caption: str
    video: str  # an FFmpeg lavfi source
    tone_hz: int


USERS = [("alice", Role.USER), ("bob", Role.USER), ("carol", Role.USER), ("mod", Role.MODERATOR), ("admin", Role.ADMIN)]
FOLLOWS = [("bob", "alice"), ("carol", "alice"), ("alice", "bob"), ("carol", "bob")]
REELS = [
    DemoReel("alice", "Colour bars at golden hour #test #bars", "smptehdbars=s=540x960:r=30", 440),
    DemoReel("alice", "Fractal dive #mandelbrot #math", "mandelbrot=s=540x960:r=30", 523),
    DemoReel(
        "bob",
        "Game of life, vertical edition #life #math",
        "life=s=540x960:r=30:mold=10:ratio=0.5:death_color=#202040",
        330,
    ),
    DemoReel("carol", "Test card dance #test", "testsrc2=s=540x960:r=30", 660),
]
CLIP_SECONDS = 6


async def _make_clip(reel: DemoReel, path: Path) -> None:
    await run_ffmpeg(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            reel.video,
            "-f",
            "lavfi",
            "-i",
            f"sine=f={reel.tone_hz}:d={CLIP_SECONDS}",
            "-t",
            str(CLIP_SECONDS),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            "-movflags",
            "+faststart",
            "-y",
            str(path),
        ],
        timeout_s=120,
        what="making a demo clip",
    )


async def seed(settings: Settings) -> None:
    """Idempotent: a data dir that already has the demo users is left as it is."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per part PUT drowns the progress bar
    platform = await Platform.start(settings)
    try:
        async with platform.sessions() as session:
            if await session.scalar(select(User.id).where(User.username == "alice")) is not None:
                typer.echo("demo data already seeded")
                return
        users: dict[str, User] = {}
        for name, role in USERS:
            users[name] = await accounts.register(platform.sessions, name, DEMO_PASSWORD, name.title(), role=role)
        for follower, followee in FOLLOWS:
            await social.follow(
                platform.graph,
                platform.sessions,
                platform.kv,
                platform.queue,
                platform.pubsub,
                users[follower],
                users[followee].id,
                inbox_size=platform.settings.inbox_size,
            )
        # Presigned part URLs point at this app's upload route (local disk) or at S3: serve the
        # app's media routes in-process so the same URLs work before the server starts.
        media_app = Starlette(routes=media_routes(lambda request: platform.store))
        transport = httpx.ASGITransport(app=media_app) if platform.settings.s3_endpoint_url is None else None
        with (
            tempfile.TemporaryDirectory(prefix="reels-demo-") as scratch,
            typer.progressbar(REELS, label="Transcoding demo reels") as progress,
        ):
            async with httpx.AsyncClient(transport=transport) as client:
                for reel in progress:
                    clip = Path(scratch) / "clip.mp4"
                    await _make_clip(reel, clip)
                    await _upload(platform, client, users[reel.creator], reel.caption, clip)
        typer.echo(f"seeded users {', '.join(name for name, _ in USERS)} (password: {DEMO_PASSWORD})")
    finally:
        await platform.close()


async def _upload(platform: Platform, client: httpx.AsyncClient, creator: User, caption: str, clip: Path) -> None:
    started = await uploads.create_upload(
        platform.sessions,
        platform.store,
        platform.settings,
        creator,
        caption=caption,
        visibility=Visibility.PUBLIC,
        file_size=clip.stat().st_size,
        content_type="video/mp4",
        audio_id=None,
    )
    etags = await put_parts(client, clip, started.part_size, started.parts)
    await uploads.complete_upload(
        platform.sessions, platform.store, platform.queue, platform.pubsub, creator, started.upload_id, etags
    )
    # The server is not running yet, so run the worker's step here rather than wait for it.
    await media.process(platform, started.reel.id)
