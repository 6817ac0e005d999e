"""Read-your-own-writes: a mutation's request and a subscription read from the primary."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from reels.resolvers.context import READS_FROM_PRIMARY, Context


class PrimaryAfterWrites(SchemaExtension):
    """Queries read from a replica that keeps up (`Platform.reads`). A mutation's payload must
    show what it just wrote, so its whole request reads from the primary. A subscription reads
    after each event about a write, which the replica may not have replayed yet: it reads from
    the primary too."""

    def on_execute(self) -> Iterator[None]:
        context: ExecutionContext = self.execution_context
        if context.operation_type is OperationType.MUTATION and isinstance(context.context, Context):
            context.context.will_write()
        elif context.operation_type is OperationType.SUBSCRIPTION:
            # Set in the operation's own task (strawberry runs each socket operation in one),
            # which serves its events and resolves their fields: not the socket's other operations.
            READS_FROM_PRIMARY.set(True)
        yield
