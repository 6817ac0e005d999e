"""Object store on S3 or anything speaking its API (MinIO, Ceph, moto): the production adapter.

Clients upload parts and fetch media straight from the bucket through presigned URLs; the API
only signs. boto3 blocks, so every network call runs in a worker thread. Browsers reading a
part's ETag need the bucket's CORS rules to expose the `ETag` header.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from reels.ports.objectstore.base import (
    UNKNOWN_UPLOAD,
    ObjectNotFound,
    StoredPart,
    UploadError,
    check_key,
    check_part_number,
    check_prefix,
    content_type_for,
    multipart_etag,
    verify_parts,
)
from reels.settings import ConfigError

_DELETE_BATCH = 1000  # DeleteObjects' limit


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_missing(exc: ClientError) -> bool:
    return _code(exc) in {"404", "NoSuchKey", "NotFound"}


class S3ObjectStore:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str,
        media_base_url: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.media_base_url = media_base_url.rstrip("/") if media_base_url else None
        # A session of our own: boto3's default session is not thread-safe to create clients from.
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
            # Path-style addressing works with MinIO and moto without wildcard DNS.
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=60,
            ),
        )

    # Multipart uploads

    async def create_multipart_upload(self, key: str, content_type: str) -> str:
        check_key(key)
        response = await asyncio.to_thread(
            self._client.create_multipart_upload, Bucket=self.bucket, Key=key, ContentType=content_type
        )
        return response["UploadId"]

    async def presign_upload_part(self, key: str, upload_id: str, part_number: int, *, expires_s: int = 3600) -> str:
        check_key(key)
        check_part_number(part_number)
        # Signing is local computation: no network, no thread needed.
        return self._client.generate_presigned_url(
            "upload_part",
            Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
            ExpiresIn=expires_s,
        )

    async def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        check_key(key)

        def list_all() -> list[StoredPart]:
            pages = self._client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            return [
                StoredPart(part["PartNumber"], part["ETag"], part["Size"])
                for page in pages
                for part in page.get("Parts", [])
            ]

        try:
            return await asyncio.to_thread(list_all)
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise UploadError(UNKNOWN_UPLOAD) from None
            raise

    async def complete_multipart_upload(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        try:
            stored = await self.list_parts(key, upload_id)
        except UploadError:
            # Gone: fine if the object is what these very parts make (a retried completeUpload).
            if await self._etag(key) == multipart_etag(parts):
                return
            raise
        chosen = verify_parts(parts, stored)
        try:
            await asyncio.to_thread(
                self._client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in chosen]},
            )
        except ClientError as exc:  # a race with an abort or a re-uploaded part
            reason = exc.response.get("Error", {}).get("Message", str(exc))
            raise UploadError(f"the store refused to complete the upload: {reason}") from exc

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        check_key(key)
        try:
            await asyncio.to_thread(
                self._client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id
            )
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise

    # Objects

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        check_key(key)
        extra = {"ContentType": content_type or content_type_for(key)}
        await asyncio.to_thread(self._client.upload_file, str(path), self.bucket, key, ExtraArgs=extra)

    async def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        check_key(key)
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type or content_type_for(key),
        )

    async def download_file(self, key: str, path: Path) -> None:
        check_key(key)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # boto3 writes to a temporary name and renames it, so `path` is never half written.
            await asyncio.to_thread(self._client.download_file, self.bucket, key, str(path))
        except ClientError as exc:
            if _is_missing(exc):
                raise ObjectNotFound(key) from None
            raise

    async def list_keys(self, prefix: str) -> list[str]:
        check_prefix(prefix)

        def list_all() -> list[str]:
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]

        return sorted(await asyncio.to_thread(list_all))

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_keys(prefix)
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            response = await asyncio.to_thread(
                self._client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if response.get("Errors"):
                first = response["Errors"][0]
                raise RuntimeError(f"could not delete {first.get('Key')}: {first.get('Message')}")
        await self._abort_uploads_under(prefix)
        return len(keys)

    def url(self, key: str, *, expires_s: int = 6 * 3600) -> str:
        check_key(key)
        if self.media_base_url:
            return f"{self.media_base_url}/{quote(key)}"
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )

    async def ping(self) -> None:
        try:
            await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchBucket"}:
                raise ConfigError(
                    f"S3 bucket {self.bucket!r} does not exist at {self.endpoint_url}: create it or fix REELS_S3_BUCKET"
                ) from None
            if _code(exc) in {"403", "AccessDenied"}:
                raise ConfigError(
                    f"access to S3 bucket {self.bucket!r} denied: "
                    "check REELS_S3_ACCESS_KEY_ID and REELS_S3_SECRET_ACCESS_KEY"
                ) from None
            raise

    async def close(self) -> None:
        self._client.close()

    async def _etag(self, key: str) -> str | None:
        try:
            response = await asyncio.to_thread(self._client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return response["ETag"]

    async def _abort_uploads_under(self, prefix: str) -> None:
        def list_all() -> list[tuple[str, str]]:
            pages = self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix)
            return [(upload["Key"], upload["UploadId"]) for page in pages for upload in page.get("Uploads", [])]

        for key, upload_id in await asyncio.to_thread(list_all):
            await self.abort_multipart_upload(key, upload_id)
