"""GraphQL over HTTP (POST/GET, GraphiQL) and websockets (graphql-transport-ws only).

Authentication: `Authorization: Bearer <token>` on HTTP, `token` in the websocket
`connection_init` payload. A token that is presented and not valid is refused outright (401 on
HTTP, close 4403 on a socket); no token means an anonymous request.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types.unset import UNSET

from reels.domain.accounts import user_for_token
from reels.domain.errors import AuthenticationError
from reels.domain.models import User
from reels.http.bodies import decode_json, refusal_of, request_object
from reels.http.frames import CheckedFrames
from reels.http.playground import playground_page
from reels.platform import Platform
from reels.resolvers.context import CURRENT_OPERATION, Context
from reels.settings import Settings
from reels.subscriptions import sockets

log = logging.getLogger(__name__)


def _platform(connection: HTTPConnection) -> Platform:
    platform: Platform = connection.app.state.platform
    return platform


async def _viewer(platform: Platform, token: str | None) -> User | None:
    if not token:
        return None
    async with platform.sessions() as session:
        return await user_for_token(session, token, platform.jwt_secret)


def _bearer(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be `Bearer <token>`")
    return token.strip()


def _graphql_error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


class SubscriptionSockets(CheckedFrames):
    """strawberry's graphql-transport-ws handler, telling each operation's task which socket
    operation it serves (`reels.subscriptions.sockets`)."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        try:
            payload = message["payload"]
            operation = sockets.SocketOperation(
                self.websocket.ws,  # type: ignore[attr-defined]  # strawberry's ASGI adapter
                message["id"],
                payload["query"],
                payload.get("operationName"),
                payload.get("variables"),
            )
        except (KeyError, TypeError, AttributeError):
            operation = None  # malformed: strawberry answers it
        token = CURRENT_OPERATION.set(operation)
        try:
            await super().handle_subscribe(message)  # creates the operation's task in this context
        finally:
            CURRENT_OPERATION.reset(token)


class GraphQLApp(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = SubscriptionSockets

    def __init__(self, schema: strawberry.Schema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            keep_alive=True,
            keep_alive_interval=15,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return playground_page(request)  # served from the package: works offline

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)  # HTTP bodies and websocket frames alike

    def parse_json(self, data: str | bytes) -> Any:
        return request_object(super().parse_json(data))

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except HTTPException as error:  # strawberry answers these in plain text
            return refusal_of(error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            try:
                scope.setdefault("state", {})["viewer"] = await _viewer(_platform(request), _bearer(request))
            except AuthenticationError as error:
                await _graphql_error(401, str(error), "UNAUTHENTICATED", {"WWW-Authenticate": "Bearer"})(
                    scope, receive, send
                )
                return
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Any, response: Any = None) -> Context:
        viewer = request.scope.get("state", {}).get("viewer")
        return Context(
            platform=_platform(request),
            viewer=viewer,
            live_counts=request.app.state.live_counts,
            request=request,
            response=response,
        )

    async def on_ws_connect(self, context: Context) -> None:
        token = (context.connection_params or {}).get("token")
        try:
            context.viewer = await _viewer(context.platform, token if isinstance(token, str) else None)
        except AuthenticationError as error:
            raise ConnectionRejectionError({"message": str(error), "code": "UNAUTHENTICATED"}) from None
        context.reset_loaders()


class RateLimited:
    """Per-client request rate limit (token bucket in the shared cache): 429 with Retry-After.

    Clients are told apart by address; behind a proxy, run uvicorn with --proxy-headers and
    --forwarded-allow-ips so the address is the client's, not the proxy's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            platform: Platform = scope["app"].state.platform
            settings = platform.settings
            client = (scope.get("client") or ("-", 0))[0]
            try:
                allowed, retry_after = await platform.kv.take_token(
                    f"ratelimit:http:{client}", rate_per_s=settings.requests_per_second, burst=settings.request_burst
                )
            except Exception:
                log.warning("rate limiting skipped: the cache is unreachable", exc_info=True)
                allowed, retry_after = True, 0.0
            if not allowed:
                response = _graphql_error(
                    429,
                    f"too many requests; retry in {retry_after:.1f} s",
                    "RATE_LIMITED",
                    {"Retry-After": str(max(1, round(retry_after)))},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
