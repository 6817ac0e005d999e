"""The web client at `/`: one static page (reels/http/static/web/index.html) whose ES modules
and vendored hls.js are served under /static/web/ by the static mount (see playground.py).

The page may load scripts and styles from this server only; it talks to /graphql here, and
plays and uploads media wherever the settings put the object store (this server's /media
routes, S3, or a CDN in front of it).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from reels.settings import Settings

INDEX = Path(__file__).parent / "static" / "web" / "index.html"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    media = sorted(
        {_origin(url) for url in (settings.public_url, settings.media_base_url, settings.s3_endpoint_url) if url}
    )
    media_sources = " ".join(["'self'", *media])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {media_sources} data:",
            # hls.js feeds the video element from blob: URLs of its MediaSource
            f"media-src {media_sources} blob:",
            "worker-src 'self' blob:",  # hls.js demuxes in a worker it makes from a blob
            # playlists, segments and part uploads go to the media origins
            f"connect-src {media_sources}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def web_client_routes(settings: Settings) -> list[BaseRoute]:
    page = INDEX.read_text()
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }

    async def web_client(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    return [Route("/", web_client, methods=["GET"])]
