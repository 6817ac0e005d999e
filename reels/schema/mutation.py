"""The Mutation root: one `input`, one payload with `userErrors`. Each field reads its input,
calls one resolver and shows the result; a DomainError becomes `userErrors` (`attempt`)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from reels.domain import models
from reels.domain.errors import not_found
from reels.domain.models import Visibility
from reels.resolvers import accounts, discovery, engagement, moderation, notifications, social, uploads
from reels.resolvers.context import Context
from reels.schema.enums import ModerationAction
from reels.schema.globalid import db_id_of
from reels.schema.inputs import (
    AddCommentInput,
    ClearEngagementFlagInput,
    CompleteUploadInput,
    CreateUploadInput,
    DeleteCommentInput,
    LoginInput,
    MarkNotificationsReadInput,
    ModerateReelInput,
    NotInterestedInput,
    RecordViewInput,
    ReelInput,
    RegisterInput,
    ReportReelInput,
    ResolveReportInput,
    ResumeUploadInput,
    SetAvatarFromReelInput,
    SetUserRoleInput,
    SuspendUserInput,
    UpdateAudioInput,
    UpdateProfileInput,
    UpdateReelInput,
    UserInput,
)
from reels.schema.payloads import (
    AudioPayload,
    AuthPayload,
    CommentPayload,
    CompleteUploadPayload,
    CreateUploadPayload,
    LogoutPayload,
    MarkNotificationsReadPayload,
    NotInterestedPayload,
    RecordViewPayload,
    ReelPayload,
    ReportPayload,
    ResumeUploadPayload,
    StoredPart,
    UploadPart,
    UserPayload,
    attempt,
    refused_unless,
    user_error,
)
from reels.schema.permissions import ADMINS, MODERATORS, SIGNED_IN
from reels.schema.types import Audio, Comment, Notification, Reel, Report, User


def _reel_id(global_id: str) -> int | None:
    return db_id_of(global_id, "Reel")


def _user_id(global_id: str) -> int | None:
    return db_id_of(global_id, "User")


def _reel_payload(row: models.Reel) -> ReelPayload:
    return ReelPayload(reel=Reel.from_row(row))


def _user_payload(row: models.User) -> UserPayload:
    return UserPayload(user=User.from_row(row))


def _comment_payload(row: models.Comment) -> CommentPayload:
    return CommentPayload(comment=Comment.from_row(row))


def _report_payload(row: models.Report) -> ReportPayload:
    return ReportPayload(report=Report.from_row(row))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def register(self, info: Info[Context, None], input: RegisterInput) -> AuthPayload:
        if errors := accounts.credential_errors(input.username, input.password):
            return AuthPayload(user_errors=[user_error(error) for error in errors])
        signed_in = accounts.register(info.context, input.username, input.password, input.display_name, input.region)
        return await attempt(AuthPayload, signed_in, AuthPayload.signed_in)

    @strawberry.mutation
    async def login(self, info: Info[Context, None], input: LoginInput) -> AuthPayload:
        signed_in = accounts.login(info.context, input.username, input.password)
        return await attempt(AuthPayload, signed_in, AuthPayload.signed_in)

    @strawberry.mutation(
        extensions=refused_unless(SIGNED_IN),
        description="Revokes the token this request is signed in with: it stops working on HTTP and on open sockets.",
    )
    async def logout(self, info: Info[Context, None]) -> LogoutPayload:
        return await attempt(LogoutPayload, accounts.logout(info.context), LogoutPayload.of)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def create_upload(self, info: Info[Context, None], input: CreateUploadInput) -> CreateUploadPayload:
        audio_id = db_id_of(input.audio_id, "Audio") if input.audio_id is not None else None
        if input.audio_id is not None and audio_id is None:
            return CreateUploadPayload(user_errors=[user_error(not_found("audio", "audio_id"))])
        started = uploads.create_upload(
            info.context,
            caption=input.caption or "",
            visibility=input.visibility or Visibility.PUBLIC,
            file_size=input.file_size,
            content_type=input.content_type,
            audio_id=audio_id,
            audio_title=input.audio_title,
        )
        return await attempt(
            CreateUploadPayload,
            started,
            lambda started: CreateUploadPayload(
                reel=Reel.from_row(started.reel),
                upload_id=started.upload_id,
                part_size=started.part_size,
                parts=[UploadPart.from_part(part) for part in started.parts],
            ),
        )

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def resume_upload(self, info: Info[Context, None], input: ResumeUploadInput) -> ResumeUploadPayload:
        return await attempt(
            ResumeUploadPayload,
            uploads.resume_upload(info.context, input.upload_id),
            lambda resumed: ResumeUploadPayload(
                upload_id=input.upload_id,
                missing_parts=[UploadPart.from_part(part) for part in resumed.missing],
                uploaded_parts=[StoredPart(part_number=part.part_number, etag=part.etag) for part in resumed.stored],
            ),
        )

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def complete_upload(self, info: Info[Context, None], input: CompleteUploadInput) -> CompleteUploadPayload:
        parts = [(part.part_number, part.etag) for part in input.parts]
        return await attempt(
            CompleteUploadPayload,
            uploads.complete_upload(info.context, input.upload_id, parts),
            lambda row: CompleteUploadPayload(reel=Reel.from_row(row)),
        )

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def delete_reel(self, info: Info[Context, None], input: ReelInput) -> ReelPayload:
        return await attempt(ReelPayload, uploads.delete_reel(info.context, _reel_id(input.reel_id)), _reel_payload)

    @strawberry.mutation(
        extensions=refused_unless(SIGNED_IN),
        description="The creator edits a reel: only the fields given change; a new caption re-links its hashtags.",
    )
    async def update_reel(self, info: Info[Context, None], input: UpdateReelInput) -> ReelPayload:
        updated = uploads.update_reel(
            info.context, _reel_id(input.reel_id), caption=input.caption, visibility=input.visibility
        )
        return await attempt(ReelPayload, updated, _reel_payload)

    @strawberry.mutation(
        extensions=refused_unless(SIGNED_IN),
        description="The viewer edits their profile: only the fields given change; an empty region clears it.",
    )
    async def update_profile(self, info: Info[Context, None], input: UpdateProfileInput) -> UserPayload:
        updated = accounts.update_profile(
            info.context, display_name=input.display_name, bio=input.bio, region=input.region
        )
        return await attempt(UserPayload, updated, _user_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def follow(self, info: Info[Context, None], input: UserInput) -> UserPayload:
        return await attempt(UserPayload, social.follow(info.context, _user_id(input.user_id)), _user_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def unfollow(self, info: Info[Context, None], input: UserInput) -> UserPayload:
        return await attempt(UserPayload, social.unfollow(info.context, _user_id(input.user_id)), _user_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def block_user(self, info: Info[Context, None], input: UserInput) -> UserPayload:
        return await attempt(UserPayload, social.block_user(info.context, _user_id(input.user_id)), _user_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def unblock_user(self, info: Info[Context, None], input: UserInput) -> UserPayload:
        return await attempt(UserPayload, social.unblock_user(info.context, _user_id(input.user_id)), _user_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def unmute_user(self, info: Info[Context, None], input: UserInput) -> UserPayload:
        return await attempt(UserPayload, social.unmute_user(info.context, _user_id(input.user_id)), _user_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def mute_user(self, info: Info[Context, None], input: UserInput) -> UserPayload:
        return await attempt(UserPayload, social.mute_user(info.context, _user_id(input.user_id)), _user_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN), description="Idempotent: liking twice counts once.")
    async def like_reel(self, info: Info[Context, None], input: ReelInput) -> ReelPayload:
        return await attempt(ReelPayload, engagement.like_reel(info.context, _reel_id(input.reel_id)), _reel_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def unlike_reel(self, info: Info[Context, None], input: ReelInput) -> ReelPayload:
        return await attempt(ReelPayload, engagement.unlike_reel(info.context, _reel_id(input.reel_id)), _reel_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def share_reel(self, info: Info[Context, None], input: ReelInput) -> ReelPayload:
        return await attempt(ReelPayload, engagement.share_reel(info.context, _reel_id(input.reel_id)), _reel_payload)

    @strawberry.mutation(
        description="Counts a view at the 3-second milestone or at completion, once per viewer and reel in a window."
    )
    async def record_view(self, info: Info[Context, None], input: RecordViewInput) -> RecordViewPayload:
        counted = engagement.record_view(
            info.context,
            _reel_id(input.reel_id),
            watched_ms=input.watched_ms,
            completed=input.completed,
            session_id=input.session_id,
            where=input.context.as_watch_context() if input.context else {},
        )
        return await attempt(RecordViewPayload, counted, lambda counted: RecordViewPayload(counted=counted))

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def add_comment(self, info: Info[Context, None], input: AddCommentInput) -> CommentPayload:
        added = engagement.add_comment(info.context, _reel_id(input.reel_id), input.text)
        return await attempt(CommentPayload, added, _comment_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def delete_comment(self, info: Info[Context, None], input: DeleteCommentInput) -> CommentPayload:
        deleted = engagement.delete_comment(info.context, db_id_of(input.comment_id, "Comment"))
        return await attempt(CommentPayload, deleted, _comment_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def report_reel(self, info: Info[Context, None], input: ReportReelInput) -> ReportPayload:
        report = moderation.report_reel(info.context, _reel_id(input.reel_id), input.reason, input.details)
        return await attempt(ReportPayload, report, _report_payload)

    @strawberry.mutation(extensions=refused_unless(MODERATORS), description="Moderators and admins only.")
    async def moderate_reel(self, info: Info[Context, None], input: ModerateReelInput) -> ReelPayload:
        block = input.action == ModerationAction.BLOCK
        moderated = moderation.moderate_reel(info.context, _reel_id(input.reel_id), block=block, reason=input.reason)
        return await attempt(ReelPayload, moderated, _reel_payload)

    @strawberry.mutation(extensions=refused_unless(MODERATORS))
    async def resolve_report(self, info: Info[Context, None], input: ResolveReportInput) -> ReportPayload:
        resolved = moderation.resolve_report(
            info.context, db_id_of(input.report_id, "Report"), input.status, input.note
        )
        return await attempt(ReportPayload, resolved, _report_payload)

    @strawberry.mutation(extensions=refused_unless(MODERATORS))
    async def suspend_user(self, info: Info[Context, None], input: SuspendUserInput) -> UserPayload:
        suspended = moderation.suspend_user(info.context, _user_id(input.user_id), input.reason)
        return await attempt(UserPayload, suspended, _user_payload)

    @strawberry.mutation(
        extensions=refused_unless(ADMINS),
        description="Admins only: grant or revoke the moderator (or admin) role; the account's open sockets take it at once.",
    )
    async def set_user_role(self, info: Info[Context, None], input: SetUserRoleInput) -> UserPayload:
        changed = moderation.set_user_role(info.context, _user_id(input.user_id), input.role)
        return await attempt(UserPayload, changed, _user_payload)

    @strawberry.mutation(
        extensions=refused_unless(MODERATORS),
        description="Moderators and admins: the account is genuine; its likes, views and comments count again.",
    )
    async def clear_engagement_flag(self, info: Info[Context, None], input: ClearEngagementFlagInput) -> UserPayload:
        cleared = moderation.clear_engagement_flag(info.context, _user_id(input.user_id), input.reason)
        return await attempt(UserPayload, cleared, _user_payload)

    @strawberry.mutation(extensions=refused_unless(SIGNED_IN))
    async def mark_notifications_read(
        self, info: Info[Context, None], input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        ids = [db_id_of(global_id, "Notification") for global_id in input.ids]
        return await attempt(
            MarkNotificationsReadPayload,
            notifications.mark_read(info.context, ids),
            lambda rows: MarkNotificationsReadPayload(notifications=[Notification.from_row(row) for row in rows]),
        )

    @strawberry.mutation(
        extensions=refused_unless(SIGNED_IN),
        description="The viewer's avatar becomes the frame one of their own READY reels shows at `atMs`.",
    )
    async def set_avatar_from_reel(self, info: Info[Context, None], input: SetAvatarFromReelInput) -> UserPayload:
        updated = accounts.set_avatar_from_reel(info.context, _reel_id(input.reel_id), input.at_ms)
        return await attempt(UserPayload, updated, _user_payload)

    @strawberry.mutation(
        extensions=refused_unless(SIGNED_IN), description="A sound's creator renames it: FORBIDDEN for anyone else."
    )
    async def update_audio(self, info: Info[Context, None], input: UpdateAudioInput) -> AudioPayload:
        renamed = discovery.update_audio(info.context, db_id_of(input.audio_id, "Audio"), input.title)
        return await attempt(AudioPayload, renamed, lambda row: AudioPayload(audio=Audio.from_row(row)))

    @strawberry.mutation(
        extensions=refused_unless(SIGNED_IN),
        description="The viewer is not interested in a reel: it leaves their feeds, and its creator and hashtags are "
        "demoted in their For You feed for a while.",
    )
    async def not_interested(self, info: Info[Context, None], input: NotInterestedInput) -> NotInterestedPayload:
        marked = discovery.not_interested(info.context, _reel_id(input.reel_id))
        return await attempt(NotInterestedPayload, marked, lambda row: NotInterestedPayload(reel=Reel.from_row(row)))
