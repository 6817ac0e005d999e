"""Error masking: no traceback or internal message ever reaches a client."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

log = logging.getLogger("reels.graphql")


def _is_unexpected(error: GraphQLError) -> bool:
    """Errors raised on purpose are GraphQLErrors all the way down; anything else is a bug."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Unexpected errors become "Internal error" plus a request id that the server log carries
    next to the traceback (strawberry's MaskErrors also covers subscription streams)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", "-")
        log.error("request %s: unexpected error at %s", request_id, error.path, exc_info=error.original_error)
        return GraphQLError(
            f"Internal error (request id {request_id})",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )
