"""Avatars: a frame of one of the user's own READY reels, chosen by time, as a square JPEG.

Made while the request waits: only the one 2 s segment holding the moment is fetched (from the
reel's sharpest rendition) and one FFmpeg child decodes it under a time limit, which takes a
fraction of a second; a job would make the client poll for what it could have at once. Each
avatar gets a new key, so no cache or CDN shows the old one; the one it replaces is deleted.
While the reel is BLOCKED or HELD for review the avatar is not shown (`shown`); a moderator
restoring the reel brings it back, as it does the reel's own media.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain.engagement import RateLimit, check_rate
from reels.domain.errors import DomainError, ErrorCode, forbidden, invalid, not_found
from reels.domain.ids import new_id
from reels.domain.keys import avatar_key
from reels.domain.models import Reel, ReelStatus, User
from reels.media.errors import TranscodeError
from reels.media.frames import still_frame
from reels.media.ladder import parse_media_playlist
from reels.ports.kv import KeyValue
from reels.ports.objectstore import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)

AVATAR_SIZE = 320
STILL_TIMEOUT_S = 15.0
AVATAR_CHANGES = RateLimit("avatar change", per_second=0.1, burst=5)


async def set_from_reel(
    sessions: async_sessionmaker[AsyncSession], store: ObjectStore, kv: KeyValue, user: User, reel: Reel, at_ms: int
) -> User:
    """The user's avatar becomes the frame `reel` shows at `at_ms`. Raises DomainError for a reel
    of someone else's, one not READY, or a time outside it."""
    if reel.creator_id != user.id:
        raise forbidden("an avatar can be taken from your own reels only", "reel_id")
    if reel.status != ReelStatus.READY or not reel.duration_ms or not (reel.media or {}).get("renditions"):
        raise invalid("an avatar can be taken from a READY reel only", "reel_id")
    if not 0 <= at_ms < reel.duration_ms:
        raise invalid(
            f"atMs must be between 0 and {reel.duration_ms - 1} (the reel lasts {reel.duration_ms} ms)", "at_ms"
        )
    await check_rate(kv, AVATAR_CHANGES, user.id)
    key = avatar_key(user.id, new_id())
    with tempfile.TemporaryDirectory(prefix=f"avatar-{user.id}-") as folder:
        work_dir = Path(folder)
        image = work_dir / "avatar.jpg"
        try:
            clip, offset_s = await _segment_at(store, reel.media or {}, at_ms, work_dir)
            await still_frame(clip, image, at_s=offset_s, size=AVATAR_SIZE, timeout_s=STILL_TIMEOUT_S)
        except (TranscodeError, ObjectNotFound) as error:
            log.warning("no avatar from reel %s at %d ms: %s", reel.id, at_ms, error)
            raise DomainError(ErrorCode.INVALID, "no frame could be taken at this time; try another", "at_ms") from None
        await store.put_file(key, image, "image/jpeg")
    # The row lock orders two changes of one user's avatar: each deletes what it replaced.
    async with sessions.begin() as session:
        row = await session.get(User, user.id, with_for_update=True)
        if row is None:
            raise not_found("user")
        replaced = row.avatar_key
        row.avatar_key, row.avatar_reel_id = key, reel.id
    if replaced:
        await store.delete_prefix(replaced)
    return row


def shown(taken_from: Reel | None) -> bool:
    """Whether an avatar taken from this reel is shown: not while the reel is BLOCKED or HELD
    (a reel deleted by its creator leaves the avatar as it is)."""
    return taken_from is None or taken_from.status not in (ReelStatus.BLOCKED, ReelStatus.HELD)


async def _segment_at(store: ObjectStore, media: dict[str, Any], at_ms: int, work_dir: Path) -> tuple[Path, float]:
    """The sharpest rendition's init section and the segment holding `at_ms`, joined into one
    playable file, and where `at_ms` falls in it (seconds)."""
    playlist_key = media["renditions"][-1]["playlist"]  # lowest first
    folder = playlist_key.rsplit("/", 1)[0] + "/"
    playlist = work_dir / "index.m3u8"
    await store.download_file(playlist_key, playlist)
    init_uri, segments = parse_media_playlist(playlist.read_text())
    start_s, at_s = 0.0, at_ms / 1000
    chosen = segments[-1][1]
    for duration, uri in segments:
        if at_s < start_s + duration:
            chosen = uri
            break
        start_s += duration
    else:
        start_s -= segments[-1][0]
    clip = work_dir / "clip.mp4"
    with clip.open("wb") as joined:
        for uri in (init_uri, chosen):
            part = work_dir / "part"
            await store.download_file(folder + uri, part)
            joined.write(part.read_bytes())
    return clip, max(0.0, at_s - start_s)
