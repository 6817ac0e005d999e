"""Media over the app's own HTTP: the local-disk store's routes, and signed HLS playlists for
every store.

Mounting: add `media_routes()` to the app's routes. By default each request finds the store at
`request.app.state.platform.store` (the Platform the app's lifespan starts); pass
`media_routes(store_of)` to find it elsewhere.

Local-disk store only (with the S3 adapter they answer 404: clients talk to the bucket directly):

- `PUT /media-upload/{upload_id}/{part}?expires=…&sig=…` stores one part; the `ETag` response
  header is its etag (CORS must expose `ETag` to browsers on another origin).
- `GET|HEAD /media/{key}?expires=…&sig=…` serves an object, with Range requests. Playlists come
  back with their relative URIs signed in the same way, so an HLS player can follow them.

Every store (needs the app's Platform):

- `GET|HEAD /playlists/{key}.m3u8?expires=…&sig=…` serves an HLS playlist read from the primary
  store, its relative URIs replaced by absolute signed URLs: media playlists point at the same
  route, segments and init sections at the store itself (a presigned S3 URL or `/media/…`).
  Why a route of its own: a signed playlist URL cannot be fetched from S3 and followed, since
  a player resolves `v0/index.m3u8` against the playlist's URL and drops its signature, and S3
  cannot rewrite the playlist. One route for both stores keeps one code path; behind
  REELS_MEDIA_BASE_URL (a public CDN) relative URIs just work and `reels.domain.playback` gives plain
  CDN URLs instead. Everything a playlist names expires when the playlist's URL does, and the
  playlists of a reel that is no longer READY (deleted, blocked) answer 404 at once.

A bad or expired signature gets 403, a part or upload past its size limit 413.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from reels.domain.keys import reel_of_media_key
from reels.domain.models import Reel, ReelStatus
from reels.ports.objectstore.base import InvalidKey, ObjectNotFound, ObjectStore, UploadError, content_type_for
from reels.ports.objectstore.local import (
    BadSignature,
    LocalObjectStore,
    PartTooLarge,
    UrlSigner,
    media_path,
    upload_path,
)
from reels.ports.objectstore.playlists import sign_playlist

if TYPE_CHECKING:
    from reels.platform import Platform

StoreOf = Callable[[Request], object]
PLAYLIST_SUFFIX = ".m3u8"


def platform_store(request: Request) -> object:
    platform = getattr(request.app.state, "platform", None)
    return getattr(platform, "store", None)


def media_routes(store_of: StoreOf = platform_store) -> list[Route]:
    def local_store(request: Request) -> tuple[LocalObjectStore, UrlSigner] | None:
        store = store_of(request)
        if isinstance(store, LocalObjectStore) and store.signer is not None:
            return store, store.signer
        return None

    async def put_part(request: Request) -> Response:
        served = local_store(request)
        if served is None:
            return PlainTextResponse("not found", status_code=404)
        store, signer = served
        upload_id: str = request.path_params["upload_id"]
        part_number: int = request.path_params["part_number"]
        try:
            signer.check("PUT", upload_path(upload_id, part_number), *_signature(request))
        except BadSignature as exc:
            return PlainTextResponse(str(exc), status_code=403)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > store.max_part_bytes:
            return PlainTextResponse(f"part too large: at most {store.max_part_bytes} bytes", status_code=413)
        try:
            etag = await store.receive_part(upload_id, part_number, request.stream())
        except PartTooLarge as exc:
            return PlainTextResponse(str(exc), status_code=413)
        except UploadError as exc:
            return PlainTextResponse(str(exc), status_code=404)
        except ClientDisconnect:
            return PlainTextResponse("upload interrupted", status_code=400)
        return Response(status_code=200, headers={"ETag": etag})

    async def get_media(request: Request) -> Response:
        served = local_store(request)
        if served is None:
            return PlainTextResponse("not found", status_code=404)
        store, signer = served
        key: str = request.path_params["key"]
        try:
            expires_at = signer.check("GET", media_path(key), *_signature(request))
            path = store.file_for(key)
        except BadSignature as exc:
            return PlainTextResponse(str(exc), status_code=403)
        except InvalidKey:
            return PlainTextResponse("not found", status_code=404)
        if not await asyncio.to_thread(path.is_file):
            return PlainTextResponse("not found", status_code=404)
        # Cacheable by the browser for as long as the link is valid, never by shared caches.
        headers = {"Cache-Control": f"private, max-age={max(0, expires_at - int(time.time()))}"}
        media_type = content_type_for(key)
        if key.lower().endswith(".m3u8"):
            text = await asyncio.to_thread(path.read_text)
            body = sign_playlist(text, key, lambda named: store.signed_url(named, expires_at))
            return Response(body, media_type=media_type, headers=headers)
        return FileResponse(path, media_type=media_type, headers=headers)

    async def get_playlist(request: Request) -> Response:
        platform: Platform | None = getattr(request.app.state, "platform", None)
        key: str = request.path_params["key"]
        if platform is None or not key.endswith(PLAYLIST_SUFFIX):
            return PlainTextResponse("not found", status_code=404)
        store = platform.store
        playback = platform.playback
        try:
            expires_at = playback.check_playlist(key, *_signature(request))
            if not await _playable(platform, key):
                raise ObjectNotFound(key)
            text = await _read_text(store, key)
        except BadSignature as exc:
            return PlainTextResponse(str(exc), status_code=403)
        except (InvalidKey, ObjectNotFound):
            return PlainTextResponse("not found", status_code=404)

        def url_for(named: str) -> str:
            if named.endswith(PLAYLIST_SUFFIX):
                return playback.signed_playlist_url(named, expires_at)
            return store.url(named, expires_s=max(1, expires_at - int(time.time())))

        headers = {"Cache-Control": f"private, max-age={max(0, expires_at - int(time.time()))}"}
        return Response(sign_playlist(text, key, url_for), media_type=content_type_for(key), headers=headers)

    return [
        Route("/media-upload/{upload_id}/{part_number:int}", put_part, methods=["PUT"]),
        Route("/media/{key:path}", get_media, methods=["GET", "HEAD"]),
        Route("/playlists/{key:path}", get_playlist, methods=["GET", "HEAD"]),
    ]


async def _playable(platform: Platform, key: str) -> bool:
    """Whether the reel the playlist belongs to is READY: the playlists of a reel deleted or
    blocked after its URLs were handed out stop working at once (and with them, playback)."""
    reel_id = reel_of_media_key(key)
    if reel_id is None:
        return False
    async with platform.sessions() as session:
        row = (await session.execute(select(Reel.status, Reel.deleted_at).where(Reel.id == reel_id))).first()
    return row is not None and row.status == ReelStatus.READY and row.deleted_at is None


async def _read_text(store: ObjectStore, key: str) -> str:
    with tempfile.TemporaryDirectory(prefix="reels-playlist-") as folder:
        path = Path(folder) / "playlist"
        await store.download_file(key, path)
        return await asyncio.to_thread(path.read_text)


def _signature(request: Request) -> tuple[str | None, str | None]:
    return request.query_params.get("expires"), request.query_params.get("sig")
