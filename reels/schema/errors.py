"""Errors: no traceback or internal message ever reaches a client, and only the server's own
failures are logged as errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError

from reels.domain.errors import DomainError

log = logging.getLogger("reels.graphql")

Answer = TypeVar("Answer")


async def answered(action: Awaitable[Answer]) -> Answer:
    """A query's refusal: a DomainError becomes an error with its code in `extensions.code`."""
    try:
        return await action
    except DomainError as error:
        raise GraphQLError(error.message, extensions={"code": error.code.value}) from None


def _is_unexpected(error: GraphQLError) -> bool:
    """Errors raised on purpose are GraphQLErrors all the way down; anything else is a bug, but
    for strawberry's refusal of an `operationName` the document does not have (a client's
    mistake, which reaches the schema's errors over a socket)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | CannotGetOperationTypeError)


class MaskUnexpectedErrors(MaskErrors):
    """Unexpected errors become "Internal error" plus a request id that the server log carries
    next to the traceback (strawberry's MaskErrors also covers subscription streams)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected)

    def _process_result(self, result: object) -> None:
        # strawberry's own test is an isinstance against a runtime-checkable Protocol, which
        # walks the protocol's members on every request (~5 % of a `{ __typename }`'s CPU).
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", "-")
        log.error("request %s: unexpected error at %s", request_id, error.path, exc_info=error.original_error)
        return GraphQLError(
            f"Internal error (request id {request_id})",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )


class ReelsSchema(strawberry.Schema):
    """strawberry logs every error at ERROR with its traceback, a client's mistakes (a syntax
    error, a missing token, an unknown reel) included, which buries the server's own failures.
    Those are logged by MaskUnexpectedErrors, with the request id the client was given; the
    rest are the client's answer and go to DEBUG."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            if not _is_unexpected(error):
                log.debug("client error: %s", error.message)
