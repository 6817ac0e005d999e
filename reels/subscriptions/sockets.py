"""The websocket operation a subscription resolver runs for.

Subscriptions are served over graphql-transport-ws only. The socket handler
(`reels.http.graphql.SubscriptionSockets`) sets `reels.resolvers.context.CURRENT_OPERATION` to
a `SocketOperation` while strawberry creates an operation's task, so the resolver running in
that task can write events that were rendered once for many subscribers straight to its socket
(see `reels.subscriptions.live_counts`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState


class SocketOperation:
    """One `subscribe` message of one socket."""

    def __init__(
        self, websocket: WebSocket, id: str, query: str, operation_name: str | None, variables: dict[str, Any] | None
    ) -> None:
        self.websocket = websocket
        self.id = id
        self.query = query
        self.operation_name = operation_name
        self.variables = variables or {}
        # Operations with the same key execute to the same result for the same event.
        self.render_key = (query, operation_name, json.dumps(self.variables, sort_keys=True))
        self._next_prefix = f'{{"id":{json.dumps(id)},"type":"next","payload":'

    async def send_next(self, payload: str) -> bool:
        """A `next` message carrying `payload`, an encoded execution result; False once the
        socket is closed (the client is gone, or the server closed it)."""
        if self.websocket.application_state != WebSocketState.CONNECTED:
            return False
        try:
            await self.websocket.send_text(f"{self._next_prefix}{payload}}}")
        except WebSocketDisconnect:
            return False
        return True
