"""GraphQL over HTTP (POST/GET, GraphiQL) and websockets (graphql-transport-ws only).

Authentication: `Authorization: Bearer <token>` on HTTP, `token` in the websocket
`connection_init` payload. A token that is presented and not valid (forged, expired, revoked, of
a suspended account, or not a string) is refused outright (401 on HTTP, close 4403 on a
socket); no token means an anonymous request.

A signed-in socket listens to its user's `SessionChanged` events (from any API process) and
authorizes itself again on each: it closes with 4403 once its token or account no longer
holds, and runs later operations with the account's current role. Every operation over a
socket spends the client's request budget, the same one its HTTP requests draw from.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import AsyncExitStack, suppress
from datetime import timedelta
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, SubscribeMessage
from strawberry.types.unset import UNSET

from reels.domain.accounts import AccessToken, authorize, read_token
from reels.domain.errors import AuthenticationError
from reels.domain.events import SessionChanged
from reels.domain.models import User
from reels.http.bodies import decode_json, refusal_of, request_object
from reels.http.clients import API_BUCKET, client_address, retry_after_header, take_request
from reels.http.frames import CheckedFrames
from reels.http.playground import playground_page
from reels.platform import Platform
from reels.ports.pubsub import PubSubUnavailable, Subscription
from reels.resolvers.context import CURRENT_OPERATION, Context
from reels.settings import Settings
from reels.subscriptions import sockets

log = logging.getLogger(__name__)


def _platform(connection: HTTPConnection) -> Platform:
    platform: Platform = connection.app.state.platform
    return platform


async def _viewer(platform: Platform, access: AccessToken | None) -> User | None:
    if access is None:
        return None
    return await authorize(platform.primary_read_engine, access)  # a suspension counts at once


def _access_token(platform: Platform, token: str | None) -> AccessToken | None:
    return read_token(token, platform.jwt_secret) if token else None


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
    """strawberry's graphql-transport-ws handler, plus: a signed-in socket follows its user's
    session events; every operation spends the client's request budget; each operation's task
    is told which socket operation it serves (`reels.subscriptions.sockets`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session_events = AsyncExitStack()
        self._session_watch: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # Listen before the account is checked (in on_ws_connect), so that no change between
        # the check and the listening goes unheard.
        payload = message.get("payload")
        token = payload.get("token") if isinstance(payload, dict) else None
        events = None
        if isinstance(token, str) and token and not self.connection_init_received:
            platform = self.context.platform
            try:
                channel = SessionChanged.channel_of(read_token(token, platform.jwt_secret).user_id)
                events = await self._session_events.enter_async_context(platform.pubsub.subscribe(channel, max_queue=1))
            except AuthenticationError:
                pass  # on_ws_connect refuses the token
            except PubSubUnavailable:
                # A socket that could not hear of a suspension must not open.
                await self.websocket.close(code=1011, reason="live session events are unavailable; retry later")
                return
        await super().handle_connection_init(message)
        if events is not None and self.connection_acknowledged:
            self._session_watch = asyncio.create_task(self._follow_session(events), name="socket-session")

    async def _follow_session(self, events: Subscription) -> None:
        """Authorize again on each of the user's session events: close once the token or the
        account no longer holds, or once the events can no longer be heard."""
        context = self.context
        try:
            async for _ in events:
                try:
                    context.viewer = await _viewer(context.platform, context.access_token)
                except AuthenticationError as error:
                    await self._close(4403, str(error))
                    return
                context.reset_loaders()
        except PubSubUnavailable:
            await self._close(1011, "live session events are unavailable; reconnect")

    async def _close(self, code: int, reason: str) -> None:
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with suppress(RuntimeError):  # the client closed it first
            await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        if self._session_watch is not None:
            self._session_watch.cancel()
            with suppress(asyncio.CancelledError):
                await self._session_watch
        await self._session_events.aclose()
        await super().shutdown()

    async def _refused_by_budget(self, message: SubscribeMessage) -> bool:
        """Answer the operation with a RATE_LIMITED error when the client's budget is spent."""
        wait_s = await take_request(self.context.platform, API_BUCKET, self.context.client_address)
        if wait_s is None:
            return False
        seconds = retry_after_header(wait_s)
        error = GraphQLError(
            f"too many requests; retry in {seconds} s", extensions={"code": "RATE_LIMITED", "retryAfter": int(seconds)}
        )
        await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
        return True

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and await self._refused_by_budget(message):
            return
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

    def encode_json(self, data: object) -> str:
        # Text, not bytes: strawberry sends bytes over a websocket as binary frames.
        try:
            return orjson.dumps(data).decode()
        except orjson.JSONEncodeError:  # a lone surrogate echoed from a request: json escapes it
            return json.dumps(data, separators=(",", ":"))

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
            platform = _platform(request)
            state = scope.setdefault("state", {})
            try:
                state["access_token"] = _access_token(platform, _bearer(request))
                state["viewer"] = await _viewer(platform, state["access_token"])
            except AuthenticationError as error:
                await _graphql_error(401, str(error), "UNAUTHENTICATED", {"WWW-Authenticate": "Bearer"})(
                    scope, receive, send
                )
                return
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Any, response: Any = None) -> Context:
        state = request.scope.get("state", {})
        platform = _platform(request)
        return Context(
            platform=platform,
            viewer=state.get("viewer"),
            live_counts=request.app.state.live_counts,
            request=request,
            response=response,
            access_token=state.get("access_token"),
            client_address=client_address(request.scope, platform.settings.trusted_proxy_networks),
        )

    async def on_ws_connect(self, context: Context) -> None:
        token = (context.connection_params or {}).get("token")
        try:
            if token is not None and not isinstance(token, str):
                raise AuthenticationError("the token must be a string")
            context.access_token = _access_token(context.platform, token)
            context.viewer = await _viewer(context.platform, context.access_token)
        except AuthenticationError as error:
            raise ConnectionRejectionError({"message": str(error), "code": "UNAUTHENTICATED"}) from None
        context.reset_loaders()
