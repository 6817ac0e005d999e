"""The Starlette application: /graphql, /healthz, /metrics, the web client at / and (embedded) the media routes."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from reels.http.bodies import CappedBodies
from reels.http.clients import RequestBudget, client_address, in_networks
from reels.http.graphql import GraphQLApp
from reels.http.media_routes import media_routes
from reels.http.playground import playground_routes
from reels.http.web_client import web_client_routes
from reels.metrics import LIVE_COUNT_FEEDS, LIVE_COUNT_SUBSCRIBERS, QUEUE_DEPTH
from reels.platform import Platform
from reels.schema import build_schema
from reels.settings import Settings
from reels.subscriptions.live_counts import LiveCounts
from reels.workers import CONSUMER_GROUPS, start_workers

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    checks = await request.app.state.platform.health()
    down = sorted(name for name, state in checks.items() if state != "ok")
    body = {"status": "down" if down else "ok", "down": down, "checks": checks}
    return JSONResponse(body, status_code=503 if down else 200)


def may_read_metrics(request: Request, settings: Settings) -> bool:
    """A client in REELS_METRICS_NETWORKS (its address as the trusted proxies tell it), or one
    sending REELS_METRICS_TOKEN as a bearer token."""
    token = settings.metrics_token
    sent = request.headers.get("authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    return in_networks(client_address(request.scope, settings.trusted_proxy_networks), settings.metrics_network_list)


async def metrics(request: Request) -> Response:
    platform = request.app.state.platform
    if not may_read_metrics(request, platform.settings):
        return PlainTextResponse(
            "metrics are open to REELS_METRICS_NETWORKS and to REELS_METRICS_TOKEN as a bearer token", 403
        )
    queue = platform.queue
    for topic, group in CONSUMER_GROUPS.items():
        QUEUE_DEPTH.labels(topic, group).set(await queue.depth(topic, group))
    feeds, subscribers = request.app.state.live_counts.totals()
    LIVE_COUNT_FEEDS.set(feeds)
    LIVE_COUNT_SUBSCRIBERS.set(subscribers)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(
    settings: Settings,
    *,
    run_workers: bool | None = None,
    background: Sequence[Callable[[Platform], Coroutine[Any, Any, None]]] = (),
) -> Starlette:
    """The API. `run_workers` (default: on for the embedded setup) also runs the background
    workers in this process, so one command is a whole platform. Each of `background` runs as
    a task of the platform once it has started (the demo seeds that way while the API answers)."""
    schema = build_schema(settings)
    graphql = CappedBodies(GraphQLApp(schema, settings), settings.max_request_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        platform = await Platform.start(settings)
        app.state.platform = platform
        app.state.live_counts = LiveCounts(platform, schema._schema)  # graphql-core's, which renders
        if run_workers if run_workers is not None else settings.embedded:
            start_workers(platform)
        platform.background += [asyncio.create_task(job(platform)) for job in background]
        try:
            yield
        finally:
            await app.state.live_counts.close()
            await platform.close()

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        *media_routes(),
        *playground_routes(),
        *web_client_routes(settings),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(RequestBudget)])
