"""Upload mutations and deleting reels."""

from __future__ import annotations

from strawberry.types import Info

from reels.domain import reels, uploads
from reels.domain.errors import not_found
from reels.domain.models import Visibility
from reels.resolvers.mutations import attempt
from reels.resolvers.reels import to_reel
from reels.schema.context import Context
from reels.schema.globalid import db_id_of
from reels.schema.inputs import CompleteUploadInput, CreateUploadInput, ReelInput, ResumeUploadInput
from reels.schema.payloads import (
    CompleteUploadPayload,
    CreateUploadPayload,
    ReelPayload,
    ResumeUploadPayload,
    UploadPart,
)


async def create_upload(info: Info[Context, None], input: CreateUploadInput) -> CreateUploadPayload:
    viewer = info.context.signed_in
    platform = info.context.platform

    async def action() -> CreateUploadPayload:
        audio_id = None
        if input.audio_id is not None:
            audio_id = db_id_of(input.audio_id, "Audio")
            if audio_id is None:
                raise not_found("audio", ["input", "audioId"])
        async with platform.sessions() as session:
            started = await uploads.create_upload(
                session,
                platform.store,
                platform.settings,
                viewer,
                caption=input.caption or "",
                visibility=Visibility(input.visibility.value) if input.visibility else Visibility.PUBLIC,
                file_size=input.file_size,
                content_type=input.content_type,
                audio_id=audio_id,
            )
        return CreateUploadPayload(
            reel=to_reel(info, started.reel),
            upload_id=started.upload_id,
            part_size=started.part_size,
            parts=[UploadPart(part_number=p.part_number, url=p.url) for p in started.parts],
        )

    return await attempt(CreateUploadPayload, action)


async def resume_upload(info: Info[Context, None], input: ResumeUploadInput) -> ResumeUploadPayload:
    viewer = info.context.signed_in
    platform = info.context.platform

    async def action() -> ResumeUploadPayload:
        async with platform.sessions() as session:
            missing = await uploads.resume_upload(session, platform.store, viewer, input.upload_id)
        return ResumeUploadPayload(
            upload_id=input.upload_id, missing_parts=[UploadPart(part_number=p.part_number, url=p.url) for p in missing]
        )

    return await attempt(ResumeUploadPayload, action)


async def complete_upload(info: Info[Context, None], input: CompleteUploadInput) -> CompleteUploadPayload:
    viewer = info.context.signed_in
    platform = info.context.platform

    async def action() -> CompleteUploadPayload:
        async with platform.sessions() as session:
            reel = await uploads.complete_upload(
                session,
                platform.store,
                platform.queue,
                platform.pubsub,
                viewer,
                input.upload_id,
                [(part.part_number, part.etag) for part in input.parts],
            )
        return CompleteUploadPayload(reel=to_reel(info, reel))

    return await attempt(CompleteUploadPayload, action)


async def delete_reel(info: Info[Context, None], input: ReelInput) -> ReelPayload:
    actor = info.context.signed_in
    platform = info.context.platform

    async def action() -> ReelPayload:
        async with platform.sessions() as session:
            reel = await reels.delete_reel(
                session, platform.queue, platform.pubsub, actor, db_id_of(input.reel_id, "Reel")
            )
        return ReelPayload(reel=to_reel(info, reel))

    return await attempt(ReelPayload, action)
