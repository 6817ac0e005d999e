"""Mutation payloads: the result, or `userErrors` saying what the user can fix (then the other
fields are null), and the one way a mutation turns a refusal into `userErrors`: a DomainError
(`attempt`) or a failed permission (`refused_unless`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Self, TypeVar

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission
from strawberry.types import Info
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from reels.domain.errors import DomainError
from reels.domain.uploads import PartUrl
from reels.resolvers.accounts import SignedIn
from reels.schema.types import Audio, Comment, Notification, Reel, Report, User, UserError

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


class RefusedAsUserError(FieldExtension):
    """A mutation whose permission fails answers its payload with one userErrors entry carrying
    the permission's code (UNAUTHENTICATED, FORBIDDEN), like any other refusal of a mutation."""

    def __init__(self, permissions: list[type[BasePermission]]) -> None:
        self.permissions = permissions
        self.payload_type: Callable[..., Any] | None = None

    def apply(self, field: StrawberryField) -> None:
        payload_type = field.type
        assert callable(payload_type), f"{field.name} must return a payload type"
        self.payload_type = payload_type

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any) -> Any:
        for permission_class in self.permissions:
            permission = permission_class()
            if not permission.has_permission(source, info, **kwargs):
                assert self.payload_type is not None
                code = (permission.error_extensions or {}).get("code", "FORBIDDEN")
                refusal = UserError(field=[], message=permission.message or "not allowed", code=code)
                return self.payload_type(user_errors=[refusal])
        return await next_(source, info, **kwargs)


def refused_unless(permissions: list[type[BasePermission]]) -> list[FieldExtension]:
    """The extensions of a mutation only `permissions` may run (one fresh instance per field)."""
    return [RefusedAsUserError(permissions)]


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


@strawberry.type(
    description="A part the store already holds: complete the upload with these etags and the missing parts'."
)
class StoredPart:
    part_number: int
    etag: str


@strawberry.type
class ResumeUploadPayload:
    upload_id: str | None = None
    missing_parts: list[UploadPart] | None = None
    uploaded_parts: list[StoredPart] | None = strawberry.field(
        default=None, description="The parts already stored, in order; empty once the upload is complete."
    )
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


@strawberry.type
class MarkNotificationsReadPayload:
    notifications: list[Notification] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AudioPayload:
    audio: Audio | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotInterestedPayload:
    reel: Reel | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
