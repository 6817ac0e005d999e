"""The object store port: its interface, errors and the rules both adapters share.

Keys are `/`-separated segments of letters, digits and `._@=+,-`, none starting with a dot
(`reels/123/hls/720p/seg_00001.m4s`). The local adapter maps them straight onto files, so the
same strict rule on both adapters keeps them interchangeable and makes path traversal impossible.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# S3's limits, enforced by the local adapter too so that both behave alike.
MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000

_SEGMENT = re.compile(r"[A-Za-z0-9_@=+,-][A-Za-z0-9._@=+,-]*")

_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/mp4",
    ".mp4": "video/mp4",
    ".ts": "video/mp2t",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".png": "image/png",
    ".aac": "audio/aac",
    ".m4a": "audio/mp4",
    ".vtt": "text/vtt",
    ".json": "application/json",
}


class UploadError(Exception):
    """A multipart upload cannot go on; the message can be shown to the uploader."""


UNKNOWN_UPLOAD = "unknown upload: it was completed, aborted, expired or never started"


class ObjectNotFound(LookupError):
    """No object under that key."""


class InvalidKey(ValueError):
    """A key or prefix that breaks the key rule (see the module docstring)."""


@dataclass(frozen=True)
class StoredPart:
    part_number: int
    etag: str  # quoted MD5 hex, as S3 returns it
    size: int


class ObjectStore(Protocol):
    async def create_multipart_upload(self, key: str, content_type: str) -> str:
        """Start a multipart upload of `key`; returns its unguessable upload id."""

    async def presign_upload_part(self, key: str, upload_id: str, part_number: int, *, expires_s: int = 3600) -> str:
        """A URL the client PUTs the part's bytes to; the response's ETag header is the part's etag."""

    async def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        """The parts the store holds, by part number; UploadError if the upload is unknown or finished."""

    async def complete_multipart_upload(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Join `(part number, etag)` parts into the object.

        UploadError on a missing part, a wrong etag or a too small part; harmless when the upload
        was already completed with the same parts.
        """

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; harmless if it is already gone."""

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...

    async def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    async def download_file(self, key: str, path: Path) -> None:
        """Write the object to `path` (atomically); ObjectNotFound if there is none."""

    async def list_keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix` (plain string prefix, like S3), sorted."""

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` and abort uploads under it; returns the objects deleted."""

    def url(self, key: str, *, expires_s: int = 6 * 3600) -> str:
        """Where a client fetches the object: REELS_MEDIA_BASE_URL + key if set, else a signed URL."""

    async def ping(self) -> None:
        """Raise when the store cannot be used."""

    async def close(self) -> None: ...


def check_key(key: str) -> str:
    if not key or not all(_SEGMENT.fullmatch(segment) for segment in key.split("/")):
        raise InvalidKey(f"invalid object key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A prefix may end inside a segment (`reels/12`) or with `/`, but must not be empty."""
    if not prefix:
        raise InvalidKey("an empty prefix would mean every object")
    head, _, tail = prefix.rpartition("/")
    if head:
        check_key(head)
    if tail:
        check_key(tail)
    return prefix


def check_part_number(part_number: int) -> int:
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise UploadError(f"part number must be between 1 and {MAX_PART_NUMBER}, got {part_number}")
    return part_number


def content_type_for(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def quoted_etag(etag: str) -> str:
    """Clients may send etags with or without S3's quotes."""
    bare = etag.strip().strip('"').lower()
    return f'"{bare}"'


def verify_parts(requested: list[tuple[int, str]], stored: list[StoredPart]) -> list[StoredPart]:
    """The stored parts to join, in order, after checking the client's list against the store's."""
    if not requested:
        raise UploadError("no parts given")
    numbers = [number for number, _ in requested]
    if len(set(numbers)) != len(numbers):
        raise UploadError("a part number is listed twice")
    held = {part.part_number: part for part in stored}
    chosen = []
    for number, etag in sorted(requested):
        part = held.get(number)
        if part is None:
            raise UploadError(f"part {number} has not been uploaded")
        if quoted_etag(etag) != part.etag:
            raise UploadError(f"part {number}: etag {etag} does not match the uploaded part")
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_BYTES:
            raise UploadError(
                f"part {part.part_number} is {part.size} bytes; every part but the last needs at least {MIN_PART_BYTES}"
            )
    return chosen


def multipart_etag(parts: list[tuple[int, str]]) -> str:
    """S3's ETag of an object joined from these parts: MD5 of the parts' MD5s, then `-<count>`.

    Lets a repeated completeUpload recognise an object it already completed.
    """
    try:
        digests = b"".join(bytes.fromhex(quoted_etag(etag).strip('"')) for _, etag in sorted(parts))
    except ValueError:
        return ""
    return f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(parts)}"'


async def copy_prefix(source: ObjectStore, target: ObjectStore, prefix: str) -> int:
    """Copy every object under `prefix` from one store to another; returns how many."""
    keys = await source.list_keys(prefix)
    with tempfile.TemporaryDirectory(prefix="reels-copy-") as folder:
        scratch = Path(folder) / "object"
        for key in keys:
            await source.download_file(key, scratch)
            await target.put_file(key, scratch, content_type_for(key))
    return len(keys)
