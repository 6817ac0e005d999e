"""Mutation payloads: the result, or `userErrors` saying what the user can fix (then the other
fields are null)."""

from __future__ import annotations

import strawberry

from reels.schema.types import Comment, Reel, Report, User, UserError


@strawberry.type
class AuthPayload:
    token: str | None = strawberry.field(
        default=None,
        description="Send as `Authorization: Bearer <token>` on HTTP, and as `token` in the websocket connection_init payload.",
    )
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UploadPart:
    part_number: int
    url: str = strawberry.field(description="PUT the part's bytes here; the response's ETag header is the part's etag.")


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
