"""Playback URLs: playlists through the app's signed `/playlists/` route (which signs what they
name), or plain CDN URLs behind REELS_MEDIA_BASE_URL."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select, update

from reels.domain.models import Reel, ReelStatus, User
from reels.settings import Settings
from tests.conftest import Api
from tests.pipeline.helpers import REEL, call, running

MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000,RESOLUTION=240x426\nv0/index.m3u8\n"
RUNG = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.000000,\nseg_000.m4s\n#EXT-X-ENDLIST\n'
FILES = {
    "hls/master.m3u8": MASTER.encode(),
    "hls/v0/index.m3u8": RUNG.encode(),
    "hls/v0/init.mp4": b"init section",
    "hls/v0/seg_000.m4s": b"first segment",
    "thumb.jpg": b"\xff\xd8 thumbnail",
    "preview.mp4": b"preview",
}


async def ready_reel(platform, username: str) -> int:
    """A READY reel whose media are the small files above (no transcoding needed here)."""
    async with platform.sessions() as session:
        creator = await session.scalar(select(User).where(User.username == username))
        reel = Reel(creator_id=creator.id, status=ReelStatus.READY)
        session.add(reel)
        await session.flush()
        prefix = f"reels/{reel.id}/"
        reel.media = {
            "hls": prefix + "hls/master.m3u8",
            "renditions": [
                {"width": 240, "height": 426, "bandwidth": 100000, "playlist": prefix + "hls/v0/index.m3u8"}
            ],
            "startup_segment": prefix + "hls/v0/seg_000.m4s",
            "startup_init": prefix + "hls/v0/init.mp4",
            "thumbnail": prefix + "thumb.jpg",
            "preview": prefix + "preview.mp4",
        }
        await session.commit()
    for name, data in FILES.items():
        await platform.store.put_bytes(prefix + name, data)
    return reel.id


def playback_of(api: Api, reel_db_id: int) -> dict:
    from reels.schema.globalid import to_global_id

    found = api.data(REEL, {"id": to_global_id("Reel", reel_db_id)})["reel"]
    return {"thumbnail": found["thumbnailUrl"], **found["playback"]}


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


@pytest.fixture
def api(embedded_settings: Settings) -> Api:
    with running(embedded_settings, workers=False) as api:
        yield api


def test_playlists_come_through_the_signing_route_and_name_signed_urls(api: Api) -> None:
    api.register("player")
    reel_id = call(api, ready_reel, "player")
    playback = playback_of(api, reel_id)
    assert urlsplit(playback["hlsUrl"]).path == f"/playlists/reels/{reel_id}/hls/master.m3u8"

    master = api.client.get(playback["hlsUrl"])
    assert master.status_code == 200 and master.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert master.headers["cache-control"].startswith("private, max-age=")
    variant = master.text.splitlines()[-1]
    assert urlsplit(variant).path == urlsplit(playback["renditions"][0]["playlistUrl"]).path
    rung = api.client.get(variant).text
    init_url = rung.split('URI="')[1].split('"')[0]
    segment_url = rung.splitlines()[-2]
    assert urlsplit(init_url).path == f"/media/reels/{reel_id}/hls/v0/init.mp4"
    assert api.client.get(init_url).content == b"init section"
    assert api.client.get(segment_url).content == b"first segment"
    assert api.client.get(playback["startupSegmentUrl"]).content == b"first segment"
    assert api.client.get(playback["startupInitUrl"]).content == b"init section"
    assert api.client.get(playback["thumbnail"]).content == b"\xff\xd8 thumbnail"

    # A signature is good for its own path, unaltered and unexpired, and only for playlists.
    assert api.client.get(with_query(playback["hlsUrl"], sig="forged")).status_code == 403
    assert api.client.get(playback["hlsUrl"].split("?")[0]).status_code == 403
    other_path = playback["hlsUrl"].replace("master.m3u8", "v0/index.m3u8")
    assert api.client.get(other_path).status_code == 403
    media_signed = api.client.get(init_url.replace("/media/", "/playlists/"))
    assert media_signed.status_code == 404  # not a playlist
    media_signature = with_query(variant, **{k: v[0] for k, v in parse_qs(urlsplit(init_url).query).items()})
    assert api.client.get(media_signature).status_code == 403
    platform = api.client.app.state.platform
    expired = platform.playback.signed_playlist_url(f"reels/{reel_id}/hls/master.m3u8", int(time.time()) - 1)
    assert api.client.get(expired).status_code == 403
    missing = platform.playback.signed_playlist_url("reels/1/hls/master.m3u8", int(time.time()) + 60)
    assert api.client.get(missing).status_code == 404

    # URLs handed out earlier stop playing the moment the reel is blocked or deleted.
    for change in ({"status": ReelStatus.BLOCKED}, {"status": ReelStatus.READY, "deleted_at": datetime.now(UTC)}):
        call(api, change_reel, reel_id, change)
        assert api.client.get(playback["hlsUrl"]).status_code == 404
        assert api.client.get(variant).status_code == 404


async def change_reel(platform, reel_id: int, values: dict) -> None:
    async with platform.sessions() as session:
        await session.execute(update(Reel).where(Reel.id == reel_id).values(**values))
        await session.commit()


def test_behind_a_cdn_every_url_is_a_plain_cdn_url(embedded_settings: Settings) -> None:
    cdn = "https://cdn.example.com/media"
    with running(embedded_settings.model_copy(update={"media_base_url": cdn}), workers=False) as api:
        api.register("famous")
        reel_id = call(api, ready_reel, "famous")
        playback = playback_of(api, reel_id)
    base = f"{cdn}/reels/{reel_id}/"
    assert playback == {
        "thumbnail": base + "thumb.jpg",
        "hlsUrl": base + "hls/master.m3u8",
        "startupSegmentUrl": base + "hls/v0/seg_000.m4s",
        "startupInitUrl": base + "hls/v0/init.mp4",
        "previewUrl": base + "preview.mp4",
        "renditions": [{"width": 240, "height": 426, "bandwidth": 100000, "playlistUrl": base + "hls/v0/index.m3u8"}],
    }
