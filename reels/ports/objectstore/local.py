"""Object store on local disk: the embedded adapter.

Objects are files under `media_dir`; an upload in progress is a folder
`uploads_dir/<upload id>/` holding `upload.json` and one file per part, named
`<part number>.<md5 hex>` so listing the folder gives the parts and their etags. Every write goes
to a dot-named temporary file first and is renamed into place, so a reader never sees half an
object (keys never start with a dot, so temporary files never collide with them).

Clients reach the files through the app's own signed URLs, served by `reels.http.media_routes`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterable, Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

from reels.ports.objectstore.base import (
    UNKNOWN_UPLOAD,
    InvalidKey,
    ObjectNotFound,
    StoredPart,
    UploadError,
    check_key,
    check_part_number,
    check_prefix,
    multipart_etag,
    quoted_etag,
    verify_parts,
)

_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{32}")
_PART_FILE = re.compile(r"(\d{5})\.([0-9a-f]{32})")
_COPY_CHUNK = 1024 * 1024


class BadSignature(Exception):
    """A signed URL that is forged, tampered with or expired."""


class PartTooLarge(UploadError):
    """A part past the per-part or per-upload size limit."""


class UrlSigner:
    """Builds and checks `?expires=…&sig=…` URLs under the app's public URL.

    The HMAC key is derived from the app secret, so a leaked media URL says nothing about the
    key that signs login tokens.
    """

    def __init__(self, public_url: str, secret: str) -> None:
        self.public_url = public_url.rstrip("/")
        self._key = hmac.new(secret.encode(), b"reels objectstore url signing", hashlib.sha256).digest()

    def url(self, method: str, path: str, expires_at: int) -> str:
        query = urlencode({"expires": expires_at, "sig": self._sign(method, path, expires_at)})
        return f"{self.public_url}{quote(path)}?{query}"

    def check(self, method: str, path: str, expires: str | None, sig: str | None) -> int:
        """The URL's expiry time; BadSignature if the URL is not one we signed or has expired."""
        if not expires or not sig or not expires.isdigit():
            raise BadSignature("missing or malformed signature")
        expires_at = int(expires)
        if not hmac.compare_digest(self._sign(method, path, expires_at).encode(), sig.encode()):
            raise BadSignature("invalid signature")
        if expires_at < time.time():
            raise BadSignature("link expired")
        return expires_at

    def _sign(self, method: str, path: str, expires_at: int) -> str:
        message = f"{method}\n{path}\n{expires_at}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def upload_path(upload_id: str, part_number: int) -> str:
    return f"/media-upload/{upload_id}/{part_number}"


def media_path(key: str) -> str:
    return f"/media/{key}"


class LocalObjectStore:
    def __init__(
        self,
        media_dir: Path,
        uploads_dir: Path,
        *,
        signer: UrlSigner | None,
        media_base_url: str | None = None,
        max_part_bytes: int,
        max_upload_bytes: int,
        upload_ttl_s: int,
    ) -> None:
        """`signer` None makes a store nobody fetches over HTTP (a replica): `url()` gives file URIs."""
        self.media_dir = media_dir.resolve()
        self.uploads_dir = uploads_dir.resolve()
        self.signer = signer
        self.media_base_url = media_base_url.rstrip("/") if media_base_url else None
        self.max_part_bytes = max_part_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_ttl_s = upload_ttl_s

    # Multipart uploads

    async def create_multipart_upload(self, key: str, content_type: str) -> str:
        # The content type is not kept: files are served with the type their extension implies.
        check_key(key)
        return await asyncio.to_thread(self._create_upload, key)

    async def presign_upload_part(self, key: str, upload_id: str, part_number: int, *, expires_s: int = 3600) -> str:
        check_key(key)
        self._upload_folder(upload_id)
        check_part_number(part_number)
        return self._signer().url("PUT", upload_path(upload_id, part_number), int(time.time()) + expires_s)

    async def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        return await asyncio.to_thread(lambda: _parts(self._open_upload(key, upload_id)))

    async def complete_multipart_upload(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        await asyncio.to_thread(self._complete, key, upload_id, parts)

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        check_key(key)
        folder = self._upload_folder(upload_id)
        await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)

    async def receive_part(self, upload_id: str, part_number: int, chunks: AsyncIterable[bytes]) -> str:
        """Store one part streamed from an HTTP PUT; returns its quoted etag.

        PartTooLarge once the part passes `max_part_bytes` or the upload passes `max_upload_bytes`.
        """
        check_part_number(part_number)
        folder = self._upload_folder(upload_id)
        held = sum(part.size for part in _parts(folder) if part.part_number != part_number)
        limit = min(self.max_part_bytes, self.max_upload_bytes - held)
        temp = folder / f".part-{secrets.token_hex(8)}"
        md5 = hashlib.md5(usedforsecurity=False)  # S3's etag, not a safeguard
        size = 0
        try:
            # Plain writes on the event loop: each chunk is a small copy into the page cache.
            with open(temp, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise PartTooLarge(
                            f"part too large: at most {self.max_part_bytes} bytes per part "
                            f"and {self.max_upload_bytes} bytes per upload"
                        )
                    md5.update(chunk)
                    out.write(chunk)
            final = folder / f"{part_number:05d}.{md5.hexdigest()}"
            os.replace(temp, final)
        except FileNotFoundError as exc:  # the upload was aborted or completed meanwhile
            raise UploadError(UNKNOWN_UPLOAD) from exc
        finally:
            temp.unlink(missing_ok=True)
        for older in folder.glob(f"{part_number:05d}.*"):
            if older != final:
                older.unlink(missing_ok=True)
        return quoted_etag(md5.hexdigest())

    def _create_upload(self, key: str) -> str:
        self._sweep_expired_uploads()
        upload_id = secrets.token_urlsafe(24)
        folder = self.uploads_dir / upload_id
        folder.mkdir(parents=True)
        (folder / "upload.json").write_text(json.dumps({"key": key}))
        return upload_id

    def _sweep_expired_uploads(self) -> None:
        """Drop uploads untouched for REELS_UPLOAD_TTL_S, like S3's incomplete-upload lifecycle rule."""
        if not self.uploads_dir.is_dir():
            return
        cutoff = time.time() - self.upload_ttl_s
        for entry in self.uploads_dir.iterdir():
            try:
                if entry.stat().st_mtime >= cutoff:
                    continue
            except FileNotFoundError:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def _complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        check_key(key)
        try:
            folder = self._open_upload(key, upload_id)
            chosen = verify_parts(parts, _parts(folder))
            self._write_atomically(self._file(key), lambda out: _concatenate(folder, chosen, out))
        except (UploadError, FileNotFoundError) as exc:
            # Gone: fine if it was completed with these very parts (a retried completeUpload).
            if self._completed_as(upload_id) == {"key": key, "etag": multipart_etag(parts)}:
                return
            if isinstance(exc, UploadError):
                raise
            raise UploadError(UNKNOWN_UPLOAD) from exc
        marker = {"key": key, "etag": multipart_etag([(p.part_number, p.etag) for p in chosen])}
        self._write_atomically(self._marker(upload_id), lambda out: out.write(json.dumps(marker).encode()))
        shutil.rmtree(folder, ignore_errors=True)

    def _completed_as(self, upload_id: str) -> dict[str, str] | None:
        try:
            marker: dict[str, str] = json.loads(self._marker(upload_id).read_text())
        except FileNotFoundError:
            return None
        return marker

    def _marker(self, upload_id: str) -> Path:
        # Kept next to the upload folders and swept with them after REELS_UPLOAD_TTL_S.
        return self.uploads_dir / f"{upload_id}.done"

    def _upload_folder(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise UploadError(UNKNOWN_UPLOAD)
        return self.uploads_dir / upload_id

    def _open_upload(self, key: str, upload_id: str) -> Path:
        folder = self._upload_folder(upload_id)
        try:
            meta = json.loads((folder / "upload.json").read_text())
        except FileNotFoundError:
            raise UploadError(UNKNOWN_UPLOAD) from None
        if meta["key"] != key:
            raise UploadError("this upload belongs to another object")
        return folder

    # Objects

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        def copy(out: BinaryIO) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, out, _COPY_CHUNK)

        await asyncio.to_thread(self._write_atomically, self._file(key), copy)

    async def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        await asyncio.to_thread(self._write_atomically, self._file(key), lambda out: out.write(data))

    async def download_file(self, key: str, path: Path) -> None:
        source = self._file(key)

        def copy(out: BinaryIO) -> None:
            try:
                with open(source, "rb") as src:
                    shutil.copyfileobj(src, out, _COPY_CHUNK)
            except FileNotFoundError:
                raise ObjectNotFound(key) from None

        await asyncio.to_thread(self._write_atomically, Path(path), copy)

    async def list_keys(self, prefix: str) -> list[str]:
        check_prefix(prefix)
        return await asyncio.to_thread(self._list_keys, prefix)

    async def delete_prefix(self, prefix: str) -> int:
        check_prefix(prefix)
        return await asyncio.to_thread(self._delete_prefix, prefix)

    def url(self, key: str, *, expires_s: int = 6 * 3600) -> str:
        check_key(key)
        if self.media_base_url:
            return f"{self.media_base_url}/{quote(key)}"
        if self.signer is None:
            return self._file(key).as_uri()
        return self.signed_url(key, int(time.time()) + expires_s)

    def signed_url(self, key: str, expires_at: int) -> str:
        return self._signer().url("GET", media_path(key), expires_at)

    def file_for(self, key: str) -> Path:
        """The file behind `key` (which may not exist); InvalidKey for a key that breaks the rules."""
        return self._file(key)

    async def ping(self) -> None:
        def check() -> None:
            for folder in (self.media_dir, self.uploads_dir):
                folder.mkdir(parents=True, exist_ok=True)
                if not os.access(folder, os.W_OK):
                    raise PermissionError(f"media folder {folder} is not writable")

        await asyncio.to_thread(check)

    async def close(self) -> None:
        return None

    def _list_keys(self, prefix: str) -> list[str]:
        folder = prefix.rpartition("/")[0]
        keys = []
        for dirpath, dirnames, filenames in os.walk(self.media_dir / folder):
            dirnames[:] = [name for name in dirnames if not name.startswith(".")]
            relative = Path(dirpath).relative_to(self.media_dir).as_posix()
            for name in filenames:
                key = name if relative == "." else f"{relative}/{name}"
                if not name.startswith(".") and key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def _delete_prefix(self, prefix: str) -> int:
        keys = self._list_keys(prefix)
        folders = set()
        for key in keys:
            path = self._file(key)
            path.unlink(missing_ok=True)
            folders.add(path.parent)
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            _remove_empty_folders(folder, stop=self.media_dir)
        self._abort_uploads_under(prefix)
        return len(keys)

    def _abort_uploads_under(self, prefix: str) -> None:
        for meta in self.uploads_dir.glob("*/upload.json"):
            try:
                if json.loads(meta.read_text())["key"].startswith(prefix):
                    shutil.rmtree(meta.parent, ignore_errors=True)
            except FileNotFoundError:
                continue

    def _file(self, key: str) -> Path:
        path = self.media_dir / check_key(key)
        # check_key already forbids `..` and absolute keys; this guards against symlinks too.
        if not path.resolve().is_relative_to(self.media_dir):
            raise InvalidKey(f"invalid object key {key!r}")
        return path

    def _signer(self) -> UrlSigner:
        if self.signer is None:
            raise RuntimeError(f"the store in {self.media_dir} is not served over HTTP")
        return self.signer

    @staticmethod
    def _write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".tmp-{secrets.token_hex(8)}-{target.name}"
        try:
            with open(temp, "wb") as out:
                write(out)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)


def _parts(folder: Path) -> list[StoredPart]:
    """The parts in an upload folder; of two files for one part number (a re-upload), the newer."""
    newest: dict[int, tuple[float, StoredPart]] = {}
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        raise UploadError(UNKNOWN_UPLOAD) from None
    for entry in entries:
        match = _PART_FILE.fullmatch(entry.name)
        if not match:
            continue
        try:
            stat = entry.stat()
        except FileNotFoundError:
            continue
        part = StoredPart(int(match[1]), quoted_etag(match[2]), stat.st_size)
        if part.part_number not in newest or stat.st_mtime > newest[part.part_number][0]:
            newest[part.part_number] = (stat.st_mtime, part)
    return [part for _, part in sorted(newest.values(), key=lambda item: item[1].part_number)]


def _concatenate(folder: Path, parts: list[StoredPart], out: BinaryIO) -> None:
    for part in parts:
        md5_hex = part.etag.strip('"')
        with open(folder / f"{part.part_number:05d}.{md5_hex}", "rb") as source:
            shutil.copyfileobj(source, out, _COPY_CHUNK)


def _remove_empty_folders(folder: Path, *, stop: Path) -> None:
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone): its parents are not empty either
            return
        folder = folder.parent
