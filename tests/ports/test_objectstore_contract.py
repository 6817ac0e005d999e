"""Contract of the object store port, run against the local-disk and the S3 (moto) adapters.

Parts go up and objects come down over HTTP through the very URLs the store hands out: for the
local adapter, `reels.http.media_routes` in a Starlette app behind httpx's ASGI transport.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from starlette.applications import Starlette

from reels.http.media_routes import media_routes
from reels.ports.objectstore import (
    MIN_PART_BYTES,
    InvalidKey,
    LocalObjectStore,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
    UploadError,
    copy_prefix,
    from_settings,
    replicas_from_settings,
)
from reels.ports.objectstore.local import UrlSigner
from reels.settings import ConfigError, Settings
from tests.services.s3 import S3Service

PUBLIC_URL = "http://reels.test"
SECRET = "contract-test-secret-" + "x" * 32
FIRST_PART = os.urandom(MIN_PART_BYTES + 7)
LAST_PART = b"the last part may be small"


@dataclass
class Harness:
    store: ObjectStore
    http: httpx.AsyncClient
    prefix: str  # unique per test: the moto server is shared by the session
    s3: S3Service | None = None


def settings_for(kind: str, data_dir: Path, s3: S3Service | None, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": data_dir, "secret_key": SECRET, "upload_part_bytes": MIN_PART_BYTES}
    if kind == "s3" and s3 is not None:
        values |= s3.settings()
    return Settings(**(values | overrides))


def local_app(store: LocalObjectStore) -> httpx.AsyncClient:
    """A client that sends requests for PUBLIC_URL to an app serving `store`, others to the network."""
    app = Starlette(routes=media_routes(lambda request: store))
    return httpx.AsyncClient(mounts={PUBLIC_URL: httpx.ASGITransport(app=app)})


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.services)])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    s3 = request.getfixturevalue("s3_server") if request.param == "s3" else None
    store = from_settings(settings_for(request.param, tmp_path, s3), public_url=PUBLIC_URL)
    http = local_app(store) if isinstance(store, LocalObjectStore) else httpx.AsyncClient()
    try:
        yield Harness(store, http, f"t{uuid.uuid4().hex[:12]}/", s3)
    finally:
        await http.aclose()
        await store.close()


async def put_part(h: Harness, key: str, upload_id: str, number: int, data: bytes) -> str:
    url = await h.store.presign_upload_part(key, upload_id, number)
    response = await h.http.put(url, content=data)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def read(h: Harness, key: str, tmp_path: Path) -> bytes:
    target = tmp_path / "downloads" / key
    await h.store.download_file(key, target)
    return target.read_bytes()


async def test_multipart_upload_resume_and_complete(harness: Harness, tmp_path: Path) -> None:
    key = harness.prefix + "source"
    upload_id = await harness.store.create_multipart_upload(key, "video/mp4")

    first = await put_part(harness, key, upload_id, 1, FIRST_PART)
    assert first == f'"{hashlib.md5(FIRST_PART).hexdigest()}"'
    held = await harness.store.list_parts(key, upload_id)
    assert [(p.part_number, p.etag, p.size) for p in held] == [(1, first, len(FIRST_PART))]

    # Resume: a fresh URL for the missing part; a re-sent part replaces the earlier bytes.
    await put_part(harness, key, upload_id, 2, b"sent before the connection dropped")
    last = await put_part(harness, key, upload_id, 2, LAST_PART)
    assert [p.etag for p in await harness.store.list_parts(key, upload_id)] == [first, last]

    await harness.store.complete_multipart_upload(key, upload_id, [(2, last), (1, first.strip('"'))])
    assert await read(harness, key, tmp_path) == FIRST_PART + LAST_PART

    await harness.store.complete_multipart_upload(key, upload_id, [(1, first), (2, last)])
    assert await read(harness, key, tmp_path) == FIRST_PART + LAST_PART
    with pytest.raises(UploadError):
        await harness.store.complete_multipart_upload(key, upload_id, [(1, first)])
    with pytest.raises(UploadError):
        await harness.store.list_parts(key, upload_id)


async def test_completion_is_refused_until_the_parts_are_right(harness: Harness, tmp_path: Path) -> None:
    key = harness.prefix + "source"
    upload_id = await harness.store.create_multipart_upload(key, "video/mp4")
    small = await put_part(harness, key, upload_id, 1, b"too small to be followed by another part")
    last = await put_part(harness, key, upload_id, 2, LAST_PART)

    with pytest.raises(UploadError, match="part 2: etag"):
        await harness.store.complete_multipart_upload(key, upload_id, [(1, small), (2, '"' + "0" * 32 + '"')])
    with pytest.raises(UploadError, match="part 3 has not been uploaded"):
        await harness.store.complete_multipart_upload(key, upload_id, [(1, small), (3, last)])
    with pytest.raises(UploadError, match="at least"):
        await harness.store.complete_multipart_upload(key, upload_id, [(1, small), (2, last)])
    assert await harness.store.list_keys(key) == []

    # The upload survives refused attempts.
    first = await put_part(harness, key, upload_id, 1, FIRST_PART)
    await harness.store.complete_multipart_upload(key, upload_id, [(1, first), (2, last)])
    assert await read(harness, key, tmp_path) == FIRST_PART + LAST_PART


async def test_abort_leaves_no_parts(harness: Harness) -> None:
    key = harness.prefix + "source"
    upload_id = await harness.store.create_multipart_upload(key, "video/mp4")
    await put_part(harness, key, upload_id, 1, b"abandoned")

    await harness.store.abort_multipart_upload(key, upload_id)
    await harness.store.abort_multipart_upload(key, upload_id)

    with pytest.raises(UploadError):
        await harness.store.list_parts(key, upload_id)
    assert await leftover_uploads(harness) == []
    url = await harness.store.presign_upload_part(key, upload_id, 2)
    late = await harness.http.put(url, content=b"late")
    assert late.status_code == 404 or (harness.s3 is not None and late.status_code == 500)  # moto's NoSuchUpload


async def test_deleting_a_prefix_aborts_its_uploads(harness: Harness) -> None:
    key = harness.prefix + "reel/source"
    upload_id = await harness.store.create_multipart_upload(key, "video/mp4")
    await put_part(harness, key, upload_id, 1, b"half an upload")

    assert await harness.store.delete_prefix(harness.prefix + "reel/") == 0
    assert await leftover_uploads(harness) == []


async def leftover_uploads(h: Harness) -> list[str]:
    if isinstance(h.store, LocalObjectStore):
        return [path.name for path in h.store.uploads_dir.glob("*/")]
    assert h.s3 is not None
    response = h.s3.client().list_multipart_uploads(Bucket=h.s3.bucket, Prefix=h.prefix)
    return [upload["UploadId"] for upload in response.get("Uploads", [])]


async def test_objects(harness: Harness, tmp_path: Path) -> None:
    p = harness.prefix
    source = tmp_path / "segment.m4s"
    source.write_bytes(b"segment bytes")
    await harness.store.put_file(p + "reel1/hls/seg_1.m4s", source)
    await harness.store.put_bytes(p + "reel1/hls/master.m3u8", b"#EXTM3U\n")
    await harness.store.put_bytes(p + "reel10/thumb.jpg", b"jpeg")

    assert await harness.store.list_keys(p + "reel1/") == [p + "reel1/hls/master.m3u8", p + "reel1/hls/seg_1.m4s"]
    assert await harness.store.list_keys(p + "reel1") == [
        p + "reel1/hls/master.m3u8",
        p + "reel1/hls/seg_1.m4s",
        p + "reel10/thumb.jpg",
    ]
    assert await read(harness, p + "reel1/hls/seg_1.m4s", tmp_path) == b"segment bytes"
    await harness.store.put_bytes(p + "reel1/hls/master.m3u8", b"#EXTM3U\n#EXT-X-VERSION:7\n")
    assert await read(harness, p + "reel1/hls/master.m3u8", tmp_path) == b"#EXTM3U\n#EXT-X-VERSION:7\n"
    with pytest.raises(ObjectNotFound):
        await harness.store.download_file(p + "missing.mp4", tmp_path / "missing.mp4")

    assert await harness.store.delete_prefix(p + "reel1/") == 2
    assert await harness.store.list_keys(p) == [p + "reel10/thumb.jpg"]


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "a/./b", ".hidden", "a/.tmp-x", "a\\b", "sp ace"])
async def test_keys_that_could_escape_or_collide_are_refused(harness: Harness, key: str) -> None:
    with pytest.raises(InvalidKey):
        await harness.store.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        harness.store.url(key)


async def test_url_serves_bytes_and_ranges(harness: Harness) -> None:
    key = harness.prefix + "reel/video.mp4"
    data = bytes(range(256)) * 4
    await harness.store.put_bytes(key, data)
    url = harness.store.url(key)

    whole = await harness.http.get(url)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "video/mp4"

    part = await harness.http.get(url, headers={"Range": "bytes=100-299"})
    assert part.status_code == 206
    assert part.content == data[100:300]
    assert part.headers["content-range"] == f"bytes 100-299/{len(data)}"


async def test_ping(harness: Harness) -> None:
    await harness.store.ping()


async def test_copy_prefix_to_a_replica_folder(harness: Harness, tmp_path: Path) -> None:
    await harness.store.put_bytes(harness.prefix + "reel/hls/seg_1.m4s", b"one")
    await harness.store.put_bytes(harness.prefix + "reel/thumb.jpg", b"two")
    (replica,) = replicas_from_settings(Settings(replica_stores=str(tmp_path / "replica")))

    assert await copy_prefix(harness.store, replica, harness.prefix + "reel/") == 2
    copied = await replica.list_keys(harness.prefix)
    assert copied == [harness.prefix + "reel/hls/seg_1.m4s", harness.prefix + "reel/thumb.jpg"]
    assert (tmp_path / "replica" / harness.prefix / "reel" / "thumb.jpg").read_bytes() == b"two"


# S3 only


@pytest.mark.services
async def test_s3_replica_bucket_on_the_same_endpoint(s3_server: S3Service, tmp_path: Path) -> None:
    client = s3_server.client()
    client.create_bucket(Bucket="reels-replica")
    settings = settings_for("s3", tmp_path, s3_server, replica_stores="s3://reels-replica")
    primary = from_settings(settings)
    (replica,) = replicas_from_settings(settings)
    assert isinstance(replica, S3ObjectStore) and replica.bucket == "reels-replica"

    await primary.put_bytes("replicated/thumb.jpg", b"jpeg")
    assert await copy_prefix(primary, replica, "replicated/") == 1
    head = client.head_object(Bucket="reels-replica", Key="replicated/thumb.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert client.get_object(Bucket="reels-replica", Key="replicated/thumb.jpg")["Body"].read() == b"jpeg"


@pytest.mark.services
async def test_s3_missing_bucket_is_a_config_error(s3_server: S3Service, tmp_path: Path) -> None:
    store = from_settings(settings_for("s3", tmp_path, s3_server, s3_bucket="no-such-bucket"))
    with pytest.raises(ConfigError, match="REELS_S3_BUCKET"):
        await store.ping()


# Configuration


def test_media_base_url_wins_over_signing(tmp_path: Path) -> None:
    for settings in (
        Settings(data_dir=tmp_path, secret_key=SECRET, media_base_url="https://cdn.example/m/"),
        Settings(
            data_dir=tmp_path,
            secret_key=SECRET,
            media_base_url="https://cdn.example/m/",
            s3_endpoint_url="http://127.0.0.1:1",
            s3_bucket="b",
        ),
    ):
        assert from_settings(settings).url("reels/1/master.m3u8") == "https://cdn.example/m/reels/1/master.m3u8"


def test_replica_stores_parsing(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        s3_endpoint_url="http://127.0.0.1:1",
        s3_bucket="primary",
        replica_stores=f" s3://replica-eu/ , {tmp_path / 'copy'} ,, ",
    )
    s3, local = replicas_from_settings(settings)
    assert isinstance(s3, S3ObjectStore) and s3.bucket == "replica-eu" and s3.endpoint_url == "http://127.0.0.1:1"
    assert isinstance(local, LocalObjectStore) and local.media_dir == (tmp_path / "copy").resolve()
    assert local.url("a/b.jpg") == (tmp_path / "copy" / "a" / "b.jpg").resolve().as_uri()
    assert replicas_from_settings(Settings(data_dir=tmp_path)) == []
    for wrong in ("s3://bucket/with/path", "gs://elsewhere", "s3://"):
        with pytest.raises(ConfigError, match="REELS_REPLICA_STORES"):
            replicas_from_settings(Settings(data_dir=tmp_path, replica_stores=wrong))


# Local adapter and its HTTP routes


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[Harness]:
    store = LocalObjectStore(
        tmp_path / "media",
        tmp_path / "uploads",
        signer=UrlSigner(PUBLIC_URL, SECRET),
        max_part_bytes=1000,
        max_upload_bytes=1500,
        upload_ttl_s=3600,
    )
    async with local_app(store) as http:
        yield Harness(store, http, "")


async def test_local_upload_ids_and_parts_live_in_the_upload_folder(local: Harness) -> None:
    store = local.store
    assert isinstance(store, LocalObjectStore)
    upload_id = await store.create_multipart_upload("reel/source", "video/mp4")
    other_id = await store.create_multipart_upload("reel/source", "video/mp4")
    assert upload_id != other_id and len(upload_id) >= 32
    await put_part(local, "reel/source", upload_id, 1, b"x")
    assert (store.uploads_dir / upload_id).is_dir()

    await store.complete_multipart_upload("reel/source", upload_id, [(1, hashlib.md5(b"x").hexdigest())])
    assert not (store.uploads_dir / upload_id).exists()
    with pytest.raises(UploadError, match="another object"):
        await store.list_parts("other/source", other_id)


async def test_local_uploads_untouched_past_their_ttl_are_swept(local: Harness) -> None:
    store = local.store
    assert isinstance(store, LocalObjectStore)
    stale = await store.create_multipart_upload("reel/source", "video/mp4")
    done = await store.create_multipart_upload("old/source", "video/mp4")
    await put_part(local, "old/source", done, 1, b"x")
    await store.complete_multipart_upload("old/source", done, [(1, hashlib.md5(b"x").hexdigest())])
    an_hour_ago = time.time() - store.upload_ttl_s - 1
    for entry in store.uploads_dir.iterdir():
        os.utime(entry, (an_hour_ago, an_hour_ago))

    fresh = await store.create_multipart_upload("reel/source", "video/mp4")
    assert sorted(entry.name for entry in store.uploads_dir.iterdir()) == [fresh]
    with pytest.raises(UploadError):
        await store.list_parts("reel/source", stale)
    assert await store.list_keys("old/") == ["old/source"]


async def test_local_part_and_upload_size_limits(local: Harness) -> None:
    key = "reel/source"
    upload_id = await local.store.create_multipart_upload(key, "video/mp4")
    url = await local.store.presign_upload_part(key, upload_id, 1)

    declared = await local.http.put(url, content=b"x" * 1001)
    assert declared.status_code == 413

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: the limit is counted
        for _ in range(100):
            yield b"x" * 100

    streamed = await local.http.put(url, content=endless())
    assert streamed.status_code == 413
    assert await local.store.list_parts(key, upload_id) == []

    await put_part(local, key, upload_id, 1, b"x" * 1000)
    over_total = await local.http.put(await local.store.presign_upload_part(key, upload_id, 2), content=b"x" * 501)
    assert over_total.status_code == 413
    await put_part(local, key, upload_id, 2, b"x" * 500)
    assert [p.size for p in await local.store.list_parts(key, upload_id)] == [1000, 500]


async def test_local_signatures(local: Harness) -> None:
    store = local.store
    await store.put_bytes("reel/a.jpg", b"a")
    await store.put_bytes("reel/b.jpg", b"b")
    url = store.url("reel/a.jpg")
    response = await local.http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"].startswith("private, max-age=")

    tampered = url[:-1] + ("A" if url[-1] != "A" else "B")
    other_key = url.replace("reel/a.jpg", "reel/b.jpg")
    for bad in (tampered, other_key, url.split("?")[0], store.url("reel/a.jpg", expires_s=-5)):
        refused = await local.http.get(bad)
        assert refused.status_code == 403, bad
        assert len(refused.text) < 100

    upload_id = await store.create_multipart_upload("reel/source", "video/mp4")
    part_url = await store.presign_upload_part("reel/source", upload_id, 1)
    assert (await local.http.put(part_url.replace("/1?", "/2?"), content=b"x")).status_code == 403
    assert (await local.http.put(part_url[:-2], content=b"x")).status_code == 403


async def test_local_path_traversal_is_impossible_even_when_signed(local: Harness, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("top secret")
    store = local.store
    assert isinstance(store, LocalObjectStore) and store.signer is not None
    signed = store.signer.url("GET", "/media/../secret", 2**40)
    query = signed.split("?")[1]
    response = await local.http.get(f"{PUBLIC_URL}/media/%2E%2E/secret?{query}")
    assert response.status_code == 404
    assert "top secret" not in response.text


async def test_local_playlists_come_back_with_signed_uris(local: Harness) -> None:
    store = local.store
    await store.put_bytes(
        "reel/hls/master.m3u8",
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n720p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../escape.m3u8\n",
    )
    await store.put_bytes(
        "reel/hls/720p/index.m3u8",
        b'#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.0,\nseg_00001.m4s\n#EXT-X-ENDLIST\n',
    )
    await store.put_bytes("reel/hls/720p/init.mp4", b"init")
    await store.put_bytes("reel/hls/720p/seg_00001.m4s", b"segment")

    master = await local.http.get(store.url("reel/hls/master.m3u8"))
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    variant_url, escape = [line for line in master.text.splitlines() if not line.startswith("#")]
    assert escape == "../escape.m3u8"
    variant = await local.http.get(variant_url)
    assert variant.status_code == 200
    map_url = variant.text.split('URI="')[1].split('"')[0]
    segment_url = next(line for line in variant.text.splitlines() if line and not line.startswith("#"))
    assert (await local.http.get(map_url)).content == b"init"
    assert (await local.http.get(segment_url)).content == b"segment"


async def test_routes_find_the_platform_store_and_leave_s3_alone(local: Harness) -> None:
    await local.store.put_bytes("reel/a.jpg", b"a")
    s3 = S3ObjectStore(
        "bucket", endpoint_url="http://127.0.0.1:1", access_key_id="k", secret_access_key="s", region="us-east-1"
    )
    for store, status in ((local.store, 200), (s3, 404)):
        app = Starlette(routes=media_routes())
        app.state.platform = SimpleNamespace(store=store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
            assert (await http.get(local.store.url("reel/a.jpg"))).status_code == status
    await s3.close()
