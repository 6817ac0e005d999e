"""GraphQL input types, named as in the contract."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from reels.domain import feed
from reels.schema import enums


def region_code(region: str | None, name: str) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; a query's INVALID error for anything else."""
    code = (region or "").strip().upper()
    if not code:
        return None
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise GraphQLError(f"{name} must be an ISO 3166-1 alpha-2 code, e.g. IN", extensions={"code": "INVALID"})
    return code


def feed_context_of(context: FeedContext | None) -> feed.FeedContext:
    return context.as_feed_context() if context is not None else feed.FeedContext()


@strawberry.input(description="What the client knows about where it plays; the feed adapts renditions and picks to it.")
class FeedContext:
    network: enums.NetworkType | None = None
    device: enums.DeviceClass | None = None
    region: str | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2, e.g. IN; used for regional trending."
    )

    def as_feed_context(self) -> feed.FeedContext:
        return feed.FeedContext(
            network=self.network.value if self.network else None,
            device=self.device.value if self.device else None,
            region=region_code(self.region, "context.region"),
        )

    def as_watch_context(self) -> dict[str, str | None]:
        """What a watch record keeps of it, for the ranker."""
        return {
            "network": self.network.value if self.network else None,
            "device": self.device.value if self.device else None,
            "region": self.region,
        }


@strawberry.input
class RegisterInput:
    username: str
    password: str
    display_name: str | None = None
    region: str | None = strawberry.field(
        default=None,
        description="ISO 3166-1 alpha-2, e.g. IN: where the user's reels trend. Default: the first "
        "`FeedContext.region` the user's feed is asked with.",
    )


@strawberry.input
class LoginInput:
    username: str
    password: str


@strawberry.input
class CreateUploadInput:
    file_size: int = strawberry.field(description="Size of the file in bytes; the server sizes the parts from it.")
    content_type: str
    caption: str | None = ""
    visibility: enums.Visibility | None = enums.Visibility.PUBLIC
    audio_id: strawberry.ID | None = strawberry.field(
        default=None, description="Reuse the sound of this audio; null makes the upload's own sound a new Audio."
    )
    audio_title: str | None = strawberry.field(
        default=None,
        description='The title of the upload\'s own sound (not with audioId); by default "Original audio · @username".',
    )


@strawberry.input
class CompletedPart:
    part_number: int
    etag: str


@strawberry.input
class CompleteUploadInput:
    upload_id: str
    parts: list[CompletedPart]


@strawberry.input(
    description="Ask again for the parts of an unfinished upload that the server does not hold yet (resume after a dropped connection)."
)
class ResumeUploadInput:
    upload_id: str


@strawberry.input
class ReelInput:
    reel_id: strawberry.ID


@strawberry.input
class UserInput:
    user_id: strawberry.ID


@strawberry.input
class RecordViewInput:
    reel_id: strawberry.ID
    watched_ms: int = strawberry.field(description="How long this viewing lasted, in milliseconds.")
    completed: bool = strawberry.field(description="True when the viewer reached the end.")
    session_id: str | None = strawberry.field(
        default=None,
        description="An anonymous client's session id (or send the X-Reels-Session header): views count once per viewer and reel in a window.",
    )
    context: FeedContext | None = strawberry.field(
        default=None, description="Where the reel played; stored with the watch for the ranker."
    )


@strawberry.input
class AddCommentInput:
    reel_id: strawberry.ID
    text: str


@strawberry.input
class DeleteCommentInput:
    comment_id: strawberry.ID


@strawberry.input
class ReportReelInput:
    reel_id: strawberry.ID
    reason: enums.ReportReason
    details: str | None = None


@strawberry.input
class ModerateReelInput:
    reel_id: strawberry.ID
    action: enums.ModerationAction
    reason: str


@strawberry.input
class ResolveReportInput:
    report_id: strawberry.ID
    status: enums.ReportStatus
    note: str | None = None


@strawberry.input
class SuspendUserInput:
    user_id: strawberry.ID
    reason: str


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID]


@strawberry.input(description="Only the fields given change; the rest stay as they are.")
class UpdateReelInput:
    reel_id: strawberry.ID
    caption: str | None = None
    visibility: enums.Visibility | None = None


@strawberry.input(description="Only the fields given change; the rest stay as they are.")
class UpdateProfileInput:
    display_name: str | None = None
    bio: str | None = None
    region: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2, e.g. IN.")


@strawberry.input
class SetAvatarFromReelInput:
    reel_id: strawberry.ID = strawberry.field(description="One of the viewer's own READY reels.")
    at_ms: int = strawberry.field(description="The moment of the reel to take, from 0 to its duration in ms.")


@strawberry.input
class UpdateAudioInput:
    audio_id: strawberry.ID
    title: str = strawberry.field(description="1-100 characters on one line.")


@strawberry.input
class SetUserRoleInput:
    user_id: strawberry.ID
    role: enums.Role


@strawberry.input
class ClearEngagementFlagInput:
    user_id: strawberry.ID
    reason: str


@strawberry.input
class NotInterestedInput:
    reel_id: strawberry.ID
