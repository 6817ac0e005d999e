"""The one way a mutation turns a DomainError into `userErrors`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from reels.domain.errors import DomainError
from reels.schema.types import UserError

Payload = TypeVar("Payload")


def user_error(error: DomainError) -> UserError:
    return UserError(field=error.field, message=error.message, code=error.code)


async def attempt(payload_type: Callable[..., Payload], action: Callable[[], Awaitable[Payload]]) -> Payload:
    """Run the mutation's action; a DomainError becomes the payload's userErrors, other fields null."""
    try:
        return await action()
    except DomainError as error:
        return payload_type(user_errors=[user_error(error)])
