"""HTTP routes of the local-disk object store: signed part uploads and signed media downloads.

Mounting: add `media_routes()` to the app's routes. By default each request finds the store at
`request.app.state.platform.store` (the Platform the app's lifespan starts); pass
`media_routes(store_of)` to find it elsewhere. With the S3 adapter the routes answer 404:
clients talk to the bucket directly.

- `PUT /media-upload/{upload_id}/{part}?expires=…&sig=…` stores one part; the `ETag` response
  header is its etag (CORS must expose `ETag` to browsers on another origin).
- `GET|HEAD /media/{key}?expires=…&sig=…` serves an object, with Range requests. Playlists come
  back with their relative URIs signed in the same way, so an HLS player can follow them.

A bad or expired signature gets 403, a part or upload past its size limit 413.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from reels.ports.objectstore.base import InvalidKey, UploadError, content_type_for
from reels.ports.objectstore.local import (
    BadSignature,
    LocalObjectStore,
    PartTooLarge,
    UrlSigner,
    media_path,
    upload_path,
)
from reels.ports.objectstore.playlists import sign_playlist

StoreOf = Callable[[Request], object]


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

    return [
        Route("/media-upload/{upload_id}/{part_number:int}", put_part, methods=["PUT"]),
        Route("/media/{key:path}", get_media, methods=["GET", "HEAD"]),
    ]


def _signature(request: Request) -> tuple[str | None, str | None]:
    return request.query_params.get("expires"), request.query_params.get("sig")
