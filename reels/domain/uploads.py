"""Uploads: a reel's source file goes straight from the client to the object store in parts.

createUpload → reel INIT + multipart upload + one presigned URL per part
resumeUpload → the parts the store does not hold yet, with fresh URLs
completeUpload → parts verified and joined, reel UPLOADED, a `media` job on the queue
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels import db
from reels.domain import lifecycle, sounds
from reels.domain.errors import DomainError, ErrorCode, forbidden, invalid, not_found
from reels.domain.ids import new_id
from reels.domain.keys import source_key
from reels.domain.models import Audio, Hashtag, Reel, ReelHashtag, ReelStatus, Upload, User, Visibility
from reels.domain.unit_of_work import unit_of_work
from reels.ports.objectstore import MIN_PART_BYTES, ObjectStore, StoredPart, UploadError
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue
from reels.settings import Settings

ACCEPTED_CONTENT_TYPES = {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska"}
CAPTION_MAX = 2200
HASHTAGS_MAX = 30
MAX_PARTS = 10_000  # S3's limit
URL_TTL_S = 6 * 3600
# Uploads at most this big go in the fast lane: short reels first, ahead of big ones.
SMALL_UPLOAD_BYTES = 64 * 1024 * 1024
# Uploads a creator may have waiting for transcoding before further ones go to the bulk lane.
BURST_UPLOADS = 3
HASHTAG_PATTERN = re.compile(r"#(\w{1,100})", re.UNICODE)
MEDIA_TYPE_PARAMETER = re.compile(r'\s*[A-Za-z0-9!#$&^_.+-]+=("[^"]*"|[^";\s]+)\s*')


@dataclass(frozen=True)
class PartUrl:
    part_number: int
    url: str


@dataclass(frozen=True)
class StartedUpload:
    reel: Reel
    upload_id: str
    part_size: int
    parts: list[PartUrl]


def hashtags_in(caption: str) -> list[str]:
    """Distinct lower-case hashtags in order of appearance."""
    seen: dict[str, None] = {}
    for match in HASHTAG_PATTERN.finditer(caption):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)[:HASHTAGS_MAX]


def part_size_for(file_size: int, preferred: int) -> int:
    """The preferred size, grown when needed to stay within S3's 10,000 parts."""
    return max(preferred, MIN_PART_BYTES, math.ceil(file_size / MAX_PARTS))


def media_type(content_type: str) -> str | None:
    """The accepted, lower-cased media type of a Content-Type value (parameters such as
    `codecs="…"` allowed, if well formed); None for anything else."""
    kind, *parameters = content_type.split(";")
    kind = kind.strip().lower()
    if kind not in ACCEPTED_CONTENT_TYPES or not all(MEDIA_TYPE_PARAMETER.fullmatch(p) for p in parameters):
        return None
    return kind


def _validate(settings: Settings, caption: str, file_size: int, content_type: str) -> tuple[str, str]:
    """The caption as stored and the upload's media type, or the DomainError to answer."""
    kind = media_type(content_type)
    if kind is None:
        raise invalid(
            f"content type {content_type[:100]!r} is not accepted; send one of "
            + ", ".join(sorted(ACCEPTED_CONTENT_TYPES)),
            "content_type",
        )
    if file_size <= 0:
        raise invalid("fileSize must be a positive number of bytes", "file_size")
    if file_size > settings.max_upload_bytes:
        raise DomainError(
            ErrorCode.TOO_LARGE,
            f"the file is {file_size} bytes; the limit is {settings.max_upload_bytes}",
            "file_size",
        )
    return checked_caption(caption), kind


def checked_caption(caption: str) -> str:
    """The caption as stored, or TOO_LONG."""
    text = caption.strip()
    if len(text) > CAPTION_MAX:
        raise DomainError(ErrorCode.TOO_LONG, f"a caption is limited to {CAPTION_MAX} characters", "caption")
    return text


async def _part_urls(store: ObjectStore, key: str, upload_id: str, numbers: list[int]) -> list[PartUrl]:
    return [PartUrl(n, await store.presign_upload_part(key, upload_id, n, expires_s=URL_TTL_S)) for n in numbers]


async def create_upload(
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    settings: Settings,
    uploader: User,
    *,
    caption: str,
    visibility: Visibility,
    file_size: int,
    content_type: str,
    audio_id: int | None,
    audio_title: str | None,
) -> StartedUpload:
    text, kind = _validate(settings, caption, file_size, content_type)
    if audio_title is not None:
        if audio_id is not None:
            raise invalid("audioTitle names the upload's own sound: leave it out when reusing one", "audio_title")
        audio_title = sounds.checked_title(audio_title, "audio_title")
    async with sessions.begin() as session:
        if await _open_uploads(session, uploader) >= settings.max_open_uploads:
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                f"you have {settings.max_open_uploads} uploads in progress, the most one account may hold: "
                "complete or delete one first",
            )
        if audio_id is not None and await session.get(Audio, audio_id) is None:
            raise not_found("audio", "audio_id")
        # INIT, the model's default; from here on only the lifecycle moves it.
        reel = Reel(creator_id=uploader.id, caption=text, visibility=visibility, audio_id=audio_id)
        session.add(reel)
        await session.flush()
        await _link_hashtags(session, reel, hashtags_in(text))
        key = source_key(reel.id)
        upload_id = await store.create_multipart_upload(key, kind)
        part_size = part_size_for(file_size, settings.upload_part_bytes)
        session.add(
            Upload(
                upload_id=upload_id,
                reel_id=reel.id,
                uploader_id=uploader.id,
                object_key=key,
                content_type=kind,
                file_size=file_size,
                part_size=part_size,
                audio_title=audio_title,
            )
        )
    count = math.ceil(file_size / part_size)
    return StartedUpload(reel, upload_id, part_size, await _part_urls(store, key, upload_id, list(range(1, count + 1))))


async def _open_uploads(session: AsyncSession, uploader: User) -> int:
    """Uploads the user started and neither completed nor deleted (an abandoned one stops
    counting when the maintenance sweep fails it after upload_ttl_s)."""
    started = (
        select(func.count())
        .select_from(Upload)
        .join(Reel, Reel.id == Upload.reel_id)
        .where(
            Upload.uploader_id == uploader.id,
            Upload.completed_at.is_(None),
            Reel.status == ReelStatus.INIT,
            Reel.deleted_at.is_(None),
        )
    )
    return int(await session.scalar(started) or 0)


async def _link_hashtags(session: AsyncSession, reel: Reel, names: list[str]) -> None:
    ids = await hashtag_ids(session, names)
    session.add_all(ReelHashtag(reel_id=reel.id, hashtag_id=hashtag_id) for hashtag_id in ids)


async def hashtag_ids(session: AsyncSession, names: list[str]) -> list[int]:
    """The ids of the hashtags named, created when new."""
    if not names:
        return []
    # Insert-or-ignore: two uploads naming the same new hashtag at once must both succeed.
    await session.execute(
        db.insert(session, Hashtag).on_conflict_do_nothing(index_elements=[Hashtag.name]),
        [{"id": new_id(), "name": name, "reel_count": 0} for name in names],
    )
    return list((await session.scalars(select(Hashtag.id).where(Hashtag.name.in_(names)))).all())


async def _own_upload(session: AsyncSession, uploader: User, upload_id: str) -> tuple[Upload, Reel]:
    upload = await session.get(Upload, upload_id) if upload_id else None
    reel = await session.get(Reel, upload.reel_id) if upload is not None else None
    if upload is None or reel is None or reel.deleted_at is not None:
        raise not_found("upload", "upload_id")
    if upload.uploader_id != uploader.id:
        raise forbidden("only the uploader may resume or complete an upload", "upload_id")
    return upload, reel


@dataclass(frozen=True)
class Resumed:
    """What an unfinished upload still needs, and what the store already holds (with the etags
    completing needs), so a client that lost its own record can finish."""

    missing: list[PartUrl]
    stored: list[StoredPart]


async def resume_upload(
    sessions: async_sessionmaker[AsyncSession], store: ObjectStore, uploader: User, upload_id: str
) -> Resumed:
    async with sessions() as session:
        upload, _ = await _own_upload(session, uploader, upload_id)
    if upload.completed_at is not None:
        return Resumed(missing=[], stored=[])
    try:
        stored = sorted(await store.list_parts(upload.object_key, upload.upload_id), key=lambda part: part.part_number)
    except UploadError as error:  # aborted as abandoned (the reel is FAILED): start a new upload
        raise invalid(str(error), "upload_id") from None
    held = {part.part_number for part in stored}
    expected = range(1, math.ceil(upload.file_size / upload.part_size) + 1)
    missing = await _part_urls(store, upload.object_key, upload.upload_id, [n for n in expected if n not in held])
    return Resumed(missing=missing, stored=stored)


async def complete_upload(
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    queue: WorkQueue,
    bus: PubSub,
    uploader: User,
    upload_id: str,
    parts: list[tuple[int, str]],
) -> Reel:
    """Join the parts and queue the reel for processing. Completing twice is harmless."""
    async with unit_of_work(sessions, queue, bus) as work:
        upload, reel = await _own_upload(work.session, uploader, upload_id)
        if upload.completed_at is not None:
            return reel
        expected = math.ceil(upload.file_size / upload.part_size)
        numbers = sorted(number for number, _ in parts)
        if numbers != list(range(1, expected + 1)):
            raise invalid(f"expected parts 1–{expected}, each once", "parts")
        await _check_size(store, upload, numbers)
        try:
            await store.complete_multipart_upload(upload.object_key, upload.upload_id, sorted(parts))
        except UploadError as error:
            raise invalid(str(error), "parts") from None
        earlier = (
            await work.session.execute(
                select(
                    func.count(), func.count().filter(Reel.status.in_([ReelStatus.UPLOADED, ReelStatus.PROCESSING]))
                ).where(
                    Reel.creator_id == uploader.id,
                    Reel.id != reel.id,
                    Reel.status != ReelStatus.INIT,
                    Reel.deleted_at.is_(None),
                )
            )
        ).one()
        lane = choose_lane(first_upload=earlier[0] == 0, queued_by_uploader=earlier[1], file_size=upload.file_size)
        # Of two completions at once, one moves the reel; the other answers it as it stands.
        await lifecycle.complete_upload(work, reel.id, lane=lane)
        await work.session.refresh(reel)
    return reel


async def _check_size(store: ObjectStore, upload: Upload, numbers: list[int]) -> None:
    """The parts must hold the announced size: presigned S3 URLs do not limit what is PUT, so
    this is where REELS_MAX_UPLOAD_BYTES holds on S3."""
    try:
        sizes = {part.part_number: part.size for part in await store.list_parts(upload.object_key, upload.upload_id)}
    except UploadError:
        return  # already joined (a retried complete) or gone: completing tells which
    if all(number in sizes for number in numbers):  # else completing names the missing part
        total = sum(sizes[number] for number in numbers)
        if total != upload.file_size:
            raise invalid(
                f"the parts hold {total} bytes, not the {upload.file_size} announced in createUpload",
                "parts",
            )


def choose_lane(*, first_upload: bool, queued_by_uploader: int, file_size: int) -> str:
    """Priority lane of a transcode: a creator's first upload and short reels go first; a
    creator with a burst already queued goes to the bulk lane, so one user cannot starve others."""
    if queued_by_uploader >= BURST_UPLOADS:
        return "bulk"
    return "high" if first_upload or file_size <= SMALL_UPLOAD_BYTES else "normal"


async def abandoned_uploads(session: AsyncSession, ttl_s: float) -> list[Upload]:
    cutoff = datetime.now(UTC) - timedelta(seconds=ttl_s)
    return list(
        (await session.scalars(select(Upload).where(Upload.completed_at.is_(None), Upload.created_at < cutoff))).all()
    )
