"""The schema extension that feeds the GraphQL metrics of reels.metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from reels.metrics import GRAPHQL_LATENCY, GRAPHQL_REQUESTS


class OperationMetrics(SchemaExtension):
    """Counts and times every operation by its name (anonymous ones as "-")."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        name = context.operation_name or "-"
        try:
            kind = context.operation_type.value
        except RuntimeError:  # unparsable document
            kind = "invalid"
        result = context.result
        outcome = "error" if context.pre_execution_errors or (result is not None and result.errors) else "ok"
        GRAPHQL_REQUESTS.labels(name, kind, outcome).inc()
        GRAPHQL_LATENCY.labels(name, kind).observe(time.perf_counter() - started)
