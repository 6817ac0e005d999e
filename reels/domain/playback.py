"""Playback URLs: what a player is handed for a READY reel, signed for one API answer.

Playlists go through the app's own `/playlists/` route (`reels.http.media_routes` serves it and
checks the signature with `PlaybackUrls.check_playlist`), which signs the URIs inside each
playlist; segments, the thumbnail and the preview come straight from the store (a presigned S3
URL or the local store's `/media/` route). Behind REELS_MEDIA_BASE_URL (a public CDN) every URL
is a plain CDN URL instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from reels.domain.models import Reel, ReelStatus
from reels.ports.objectstore.base import ObjectStore
from reels.ports.objectstore.local import UrlSigner

# How long a playback URL handed out in an API answer stays valid.
PLAYLIST_URL_TTL_S = 6 * 3600


def playlist_path(key: str) -> str:
    return f"/playlists/{key}"


@dataclass(frozen=True)
class RenditionUrls:
    width: int
    height: int
    bandwidth: int
    playlist_url: str


@dataclass(frozen=True)
class PlaybackMedia:
    hls_url: str
    renditions: list[RenditionUrls]
    startup_segment_url: str
    preview_url: str | None
    startup_init_url: str | None


class PlaybackUrls:
    """Signs (or, on a CDN, just names) the media URLs of reels."""

    def __init__(self, store: ObjectStore, *, public_url: str, secret: str, media_base_url: str | None) -> None:
        self._store = store
        # Same key derivation as the local store's URLs; the signed path (/playlists/…) keeps
        # the two kinds of URL from standing in for each other.
        self._signer = UrlSigner(public_url, secret)
        self._on_cdn = bool(media_base_url)

    def playlist_url(self, key: str, *, expires_s: int = PLAYLIST_URL_TTL_S) -> str:
        """Where a player fetches the HLS playlist `key`: the CDN when there is one, else the
        app's signed `/playlists/` route."""
        if self._on_cdn:
            return self._store.url(key)
        return self.signed_playlist_url(key, int(time.time()) + expires_s)

    def signed_playlist_url(self, key: str, expires_at: int) -> str:
        """The `/playlists/` URL of `key`, valid until `expires_at` (Unix time)."""
        return self._signer.url("GET", playlist_path(key), expires_at)

    def check_playlist(self, key: str, expires: str | None, sig: str | None) -> int:
        """The expiry time of a `/playlists/` URL; BadSignature if it is not one we signed."""
        return self._signer.check("GET", playlist_path(key), expires, sig)

    def playback(self, reel: Reel) -> PlaybackMedia | None:
        """The reel's playback URLs; None until it is READY with its media in place."""
        media: dict[str, Any] = reel.media or {}
        if reel.status != ReelStatus.READY or not media.get("hls"):
            return None
        return PlaybackMedia(
            hls_url=self.playlist_url(media["hls"]),
            renditions=[
                RenditionUrls(
                    width=r["width"],
                    height=r["height"],
                    bandwidth=r["bandwidth"],
                    playlist_url=self.playlist_url(r["playlist"]),
                )
                for r in media.get("renditions", [])
            ],
            startup_segment_url=self._store.url(media["startup_segment"]),
            preview_url=self._optional_url(media, "preview"),
            startup_init_url=self._optional_url(media, "startup_init"),
        )

    def thumbnail_url(self, reel: Reel) -> str | None:
        return self._optional_url(reel.media or {}, "thumbnail")

    def _optional_url(self, media: dict[str, Any], name: str) -> str | None:
        return self._store.url(media[name]) if media.get(name) else None


LOW_DEVICE_MAX_P = 480


def fitting(media: PlaybackMedia, device: str | None) -> PlaybackMedia:
    """The renditions a device can play well: a LOW device gets those up to 480p (the short side),
    or the lowest when none is that small. The startup segment is the lowest rung's already."""
    if device != "LOW" or not media.renditions:
        return media
    small = [r for r in media.renditions if min(r.width, r.height) <= LOW_DEVICE_MAX_P]
    lowest = min(media.renditions, key=lambda r: r.bandwidth)
    return replace(media, renditions=small or [lowest])
