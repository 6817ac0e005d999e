"""Object store port: media bytes on local disk (embedded) or S3 (production).

`from_settings` picks the adapter once at start-up: S3 when REELS_S3_ENDPOINT_URL is set,
otherwise files under REELS_DATA_DIR served by `reels.http.media_routes`.
"""

from __future__ import annotations

from pathlib import Path

from reels.ports.objectstore.base import (
    MIN_PART_BYTES,
    InvalidKey,
    ObjectNotFound,
    ObjectStore,
    StoredPart,
    UploadError,
    content_type_for,
    copy_prefix,
)
from reels.ports.objectstore.local import LocalObjectStore, UrlSigner
from reels.ports.objectstore.playlists import sign_playlist
from reels.ports.objectstore.s3 import S3ObjectStore
from reels.settings import ConfigError, Settings

__all__ = [
    "MIN_PART_BYTES",
    "InvalidKey",
    "LocalObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "S3ObjectStore",
    "StoredPart",
    "UploadError",
    "content_type_for",
    "copy_prefix",
    "from_settings",
    "replicas_from_settings",
    "sign_playlist",
]

# Room for a client that rounds its part size up; anything bigger is refused with 413.
PART_SLACK_BYTES = 1024 * 1024


def from_settings(settings: Settings, *, public_url: str | None = None) -> ObjectStore:
    """The primary store; `public_url` (default REELS_PUBLIC_URL) is where this app is reached."""
    if settings.s3_endpoint_url:
        if not settings.s3_bucket:
            raise ConfigError("REELS_S3_BUCKET is required when REELS_S3_ENDPOINT_URL is set")
        return _s3(settings, settings.s3_bucket, media_base_url=settings.media_base_url)
    return LocalObjectStore(
        settings.data_dir / "media",
        settings.data_dir / "uploads",
        signer=UrlSigner(public_url or settings.public_url, settings.jwt_secret()),
        media_base_url=settings.media_base_url,
        max_part_bytes=settings.upload_part_bytes + PART_SLACK_BYTES,
        max_upload_bytes=settings.max_upload_bytes,
        upload_ttl_s=settings.upload_ttl_s,
    )


def replicas_from_settings(settings: Settings) -> list[ObjectStore]:
    """The stores named in REELS_REPLICA_STORES: `s3://bucket` (same endpoint and keys) or a folder.

    Replicas are copies for durability and other regions, not served by this app: their
    `url()` is a presigned S3 URL or a file URI, never REELS_MEDIA_BASE_URL.
    """
    stores: list[ObjectStore] = []
    for entry in (part.strip() for part in settings.replica_stores.split(",")):
        if not entry:
            continue
        if entry.startswith("s3://"):
            bucket = entry.removeprefix("s3://").rstrip("/")
            if not bucket or "/" in bucket:
                raise ConfigError(f"REELS_REPLICA_STORES: {entry!r} must be s3://<bucket>, with no path")
            stores.append(_s3(settings, bucket, media_base_url=None))
        elif "://" in entry:
            raise ConfigError(f"REELS_REPLICA_STORES: {entry!r} is neither s3://<bucket> nor a folder")
        else:
            folder = Path(entry)
            stores.append(
                LocalObjectStore(
                    folder,
                    folder / ".uploads",
                    signer=None,
                    max_part_bytes=settings.upload_part_bytes + PART_SLACK_BYTES,
                    max_upload_bytes=settings.max_upload_bytes,
                    upload_ttl_s=settings.upload_ttl_s,
                )
            )
    return stores


def _s3(settings: Settings, bucket: str, *, media_base_url: str | None) -> S3ObjectStore:
    return S3ObjectStore(
        bucket,
        endpoint_url=settings.s3_endpoint_url,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        region=settings.s3_region,
        media_base_url=media_base_url,
    )
