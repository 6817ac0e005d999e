"""Who may introspect the schema (`__schema`, `__type`), by REELS_INTROSPECTION: everyone, the
staff (moderators and admins), or nobody. `__typename` is always allowed: clients need it to
tell the types of a union or interface apart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from graphql import DocumentNode, GraphQLError, TokenKind
from strawberry.extensions import SchemaExtension

from reels.domain.accounts import can_moderate
from reels.resolvers.context import Context

IntrospectionAccess = Literal["public", "staff", "off"]
_INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def asks_for_schema(document: DocumentNode) -> bool:
    """Whether any name in the document is an introspection field: names starting with `__`
    are reserved, so this reads the tokens instead of walking fragments."""
    token = document.loc.start_token if document.loc else None
    while token is not None:
        if token.kind is TokenKind.NAME and token.value in _INTROSPECTION_FIELDS:
            return True
        token = token.next
    return False


class IntrospectionGate(SchemaExtension):
    """Refuses a valid document that introspects, unless the setting lets the viewer. Runs after
    the validation (OperationLimits), so an invalid document keeps its own errors."""

    def __init__(self, access: IntrospectionAccess) -> None:
        self.access = access

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if (
            self.access != "public"
            and document is not None
            and not context.pre_execution_errors
            and asks_for_schema(document)
            and not self._staff_may()
        ):
            context.pre_execution_errors = [self._refusal()]
        yield

    def _staff_may(self) -> bool:
        request_context = self.execution_context.context
        return self.access == "staff" and isinstance(request_context, Context) and can_moderate(request_context.viewer)

    def _refusal(self) -> GraphQLError:
        who = "moderators and admins" if self.access == "staff" else "nobody"
        return GraphQLError(
            f"introspection is open to {who} on this server; the schema is published as api/contract.graphql",
            extensions={"code": "FORBIDDEN"},
        )
