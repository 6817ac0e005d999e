"""Read-your-own-writes: a mutation's request reads from the primary."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from reels.resolvers.context import Context


class PrimaryAfterWrites(SchemaExtension):
    """Queries read from a replica that keeps up (`Platform.reads`); a mutation's payload must
    show what it just wrote, so its whole request reads from the primary."""

    def on_execute(self) -> Iterator[None]:
        context: ExecutionContext = self.execution_context
        if context.operation_type is OperationType.MUTATION and isinstance(context.context, Context):
            context.context.will_write()
        yield
