"""Which transport serves which operation: subscriptions run over graphql-transport-ws only."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from reels.resolvers.context import CURRENT_OPERATION


class SubscriptionsOverWebSockets(SchemaExtension):
    """Refuses a subscription that did not arrive on a websocket. strawberry would otherwise
    execute one POSTed over HTTP like a query, which has no answer to give."""

    def on_execute(self) -> Iterator[None]:
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION and CURRENT_OPERATION.get() is None:
            raise GraphQLError(
                "subscriptions are served over websockets: connect to /graphql with the graphql-transport-ws protocol",
                extensions={"code": "INVALID"},
            )
        yield
