"""Mutation payloads: the result, or `userErrors` saying what the user can fix (then the other
fields are null), and the one way a mutation turns a DomainError into `userErrors`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Self, TypeVar

import strawberry
from strawberry.utils.str_converters import to_camel_case

from reels.domain.errors import DomainError
from reels.domain.uploads import PartUrl
from reels.resolvers.accounts import SignedIn
from reels.schema.types import Comment, Reel, Report, User, UserError

Payload = TypeVar("Payload")
Result = TypeVar("Result")


def user_error(error: DomainError) -> UserError:
    """The domain field at fault becomes the path of the mutation's input field clients sent:
    "watched_ms" is ["input", "watchedMs"]."""
    path = ["input", to_camel_case(error.field)] if error.field else []
    return UserError(field=path, message=error.message, code=error.code.value)


async def attempt(
    payload_type: Callable[..., Payload], action: Awaitable[Result], to_payload: Callable[[Result], Payload]
) -> Payload:
    """The payload of the action's result; a DomainError becomes the payload's userErrors, other fields null."""
    try:
        result = await action
    except DomainError as error:
        return payload_type(user_errors=[user_error(error)])
    return to_payload(result)


@strawberry.type
class AuthPayload:
    token: str | None = strawberry.field(
        default=None,
        description="Send as `Authorization: Bearer <token>` on HTTP, and as `token` in the websocket connection_init payload.",
    )
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def signed_in(cls, signed_in: SignedIn) -> Self:
        return cls(token=signed_in.token, user=User.from_row(signed_in.user))


@strawberry.type
class LogoutPayload:
    logged_out: bool | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, logged_out: bool) -> Self:
        return cls(logged_out=logged_out)


@strawberry.type
class UploadPart:
    part_number: int
    url: str = strawberry.field(description="PUT the part's bytes here; the response's ETag header is the part's etag.")

    @classmethod
    def from_part(cls, part: PartUrl) -> Self:
        return cls(part_number=part.part_number, url=part.url)


@strawberry.type
class CreateUploadPayload:
    reel: Reel | None = None
    upload_id: str | None = None
    part_size: int | None = None
    parts: list[UploadPart] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CompleteUploadPayload:
    reel: Reel | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ResumeUploadPayload:
    upload_id: str | None = None
    missing_parts: list[UploadPart] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReelPayload:
    reel: Reel | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UserPayload:
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordViewPayload:
    counted: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CommentPayload:
    comment: Comment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReportPayload:
    report: Report | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
