"""What a graphql-transport-ws message must look like before strawberry handles it. A frame that
is not a JSON object with a string `type`, a `subscribe` or `complete` without a string `id`, or
a `subscribe` whose payload has the wrong shape closes the socket with 4400 and a reason
(strawberry would fail on it and drop the socket without a close frame). An operation that does
not parse (a syntax error, too many tokens) or that `operationName` does not find in the
document is answered with an `error` message, like any other refused operation, and the socket
stays open.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.types.execution import PreExecutionError

from reels.resolvers.context import Context


def _subscribe_problem(message: dict[str, Any]) -> str | None:
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "a subscribe message's `payload` must be an object"
    if not isinstance(payload.get("query"), str) or not payload["query"]:
        return "a subscribe payload's `query` must be a non-empty string"
    for name, kind in (("variables", dict), ("extensions", dict), ("operationName", str)):
        if not isinstance(payload.get(name), kind | None):
            return f"a subscribe payload's `{name}` must be {'an object' if kind is dict else 'a string'} or null"
    return None


class CheckedFrames(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_message(self, message: Message) -> None:
        frame: Any = message
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.handle_invalid_message("a message must be a JSON object with a string `type`")
            return
        if frame["type"] in ("subscribe", "complete") and (not isinstance(frame.get("id"), str) or not frame["id"]):
            await self.handle_invalid_message(f"a {frame['type']} message needs a non-empty string `id`")
            return
        if frame["type"] == "subscribe" and (problem := _subscribe_problem(frame)):
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        return None  # answer the operation with `error`; the socket's other operations go on

    async def _handle_pre_execution_error(self, operation: Operation[Context, None], result: PreExecutionError) -> None:
        # An unknown `operationName` carries the code HTTP answers it with.
        result.errors = [
            GraphQLError(error.message, extensions={"code": "BAD_REQUEST"})
            if isinstance(error.original_error, CannotGetOperationTypeError)
            else error
            for error in result.errors or ()
        ]
        await super()._handle_pre_execution_error(operation, result)
