"""Who a request comes from, and the per-client request budgets (token buckets in the shared
cache, taken a lease at a time: reels.ports.kv.leases) that HTTP requests and websocket
operations draw from.

The client is the peer address, or, when the peer is one of `REELS_TRUSTED_PROXIES`, the
nearest address in `X-Forwarded-For` that is not a trusted proxy: a client cannot choose its
own address by sending the header, and every hop through the trusted proxies is walked back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reels.domain.errors import wait_seconds
from reels.platform import Platform

log = logging.getLogger(__name__)

Network = IPv4Network | IPv6Network

API_BUCKET = "http"  # /graphql over HTTP and every operation over a websocket
MEDIA_BUCKET = "media"
MEDIA_PATH_PREFIXES = ("/media/", "/media-upload/", "/playlists/")


def in_networks(address: str, networks: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def client_address(scope: Scope, proxies: Sequence[Network]) -> str:
    address: str = (scope.get("client") or ("-", 0))[0]
    if not proxies or not in_networks(address, proxies):
        return address
    hops = [hop.strip() for value in Headers(scope=scope).getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed(hops):
        try:
            ip_address(hop)
        except ValueError:
            break  # not an address: what the proxy saw ends here
        address = hop
        if not in_networks(hop, proxies):
            break
    return address


async def take_request(platform: Platform, bucket: str, client: str) -> float | None:
    """Take one request from the client's budget: None when allowed, else the seconds to wait.

    An unreachable cache lets requests through (logged): refusing everyone would be worse."""
    settings = platform.settings
    rate, burst = (
        (settings.media_requests_per_second, settings.media_request_burst)
        if bucket == MEDIA_BUCKET
        else (settings.requests_per_second, settings.request_burst)
    )
    try:
        allowed, retry_after = await platform.request_budgets.take(
            f"ratelimit:{bucket}:{client}", rate_per_s=rate, burst=burst
        )
    except Exception:
        log.warning("rate limiting skipped: the cache is unreachable", exc_info=True)
        return None
    return None if allowed else retry_after


def retry_after_header(wait_s: float) -> str:
    return str(wait_seconds(wait_s))


class RequestBudget:
    """ASGI middleware: HTTP requests to /graphql and to the media routes spend the client's
    budget of their kind; past it they are answered 429 with `Retry-After`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bucket = _bucket_of(scope["path"]) if scope["type"] == "http" else None
        if bucket is not None:
            platform: Platform = scope["app"].state.platform
            client = client_address(scope, platform.settings.trusted_proxy_networks)
            wait_s = await take_request(platform, bucket, client)
            if wait_s is not None:
                seconds = retry_after_header(wait_s)
                response = JSONResponse(
                    {
                        "data": None,
                        "errors": [
                            {
                                "message": f"too many requests; retry in {seconds} s",
                                "extensions": {"code": "RATE_LIMITED"},
                            }
                        ],
                    },
                    status_code=429,
                    headers={"Retry-After": seconds},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _bucket_of(path: str) -> str | None:
    if path == "/graphql":
        return API_BUCKET
    if path.startswith(MEDIA_PATH_PREFIXES):
        return MEDIA_BUCKET
    return None
