"""Reports and moderator actions."""

from __future__ import annotations

from sqlalchemy import select
from strawberry.types import Info

from reels.domain import moderation
from reels.domain.errors import not_found
from reels.domain.models import Report as ReportRow
from reels.domain.models import ReportStatus
from reels.resolvers.connections import after_id, page
from reels.resolvers.mutations import attempt
from reels.resolvers.reels import to_reel, visible_reel
from reels.schema.context import Context
from reels.schema.enums import ModerationAction
from reels.schema.globalid import db_id_of
from reels.schema.inputs import ModerateReelInput, ReportReelInput, ResolveReportInput, SuspendUserInput
from reels.schema.payloads import ReelPayload, ReportPayload, UserPayload
from reels.schema.types import Report, ReportConnection, ReportEdge, User


async def reports(info: Info[Context, None], status: ReportStatus, first: int, after: str | None) -> ReportConnection:
    query = select(ReportRow).where(ReportRow.status == status).order_by(ReportRow.id.desc()).limit(first + 1)
    if (position := after_id(after)) is not None:
        query = query.where(ReportRow.id < position)
    async with info.context.platform.sessions() as session:
        rows = (await session.scalars(query)).all()
    edges, page_info = page(rows, first, Report.from_row, ReportEdge)
    return ReportConnection(edges=edges, page_info=page_info)


async def report_reel(info: Info[Context, None], input: ReportReelInput) -> ReportPayload:
    viewer = info.context.signed_in

    async def action() -> ReportPayload:
        visible = await visible_reel(info, db_id_of(input.reel_id, "Reel"))
        if visible is None:
            raise not_found("reel", ["input", "reelId"])
        reel = await info.context.loaders.reel_by_id.load(visible.db_id)
        async with info.context.platform.sessions() as session:
            row = await moderation.report_reel(session, viewer, reel, input.reason, input.details)
        return ReportPayload(report=Report.from_row(row))

    return await attempt(ReportPayload, action)


async def moderate_reel(info: Info[Context, None], input: ModerateReelInput) -> ReelPayload:
    moderator = info.context.signed_in

    async def action() -> ReelPayload:
        async with info.context.platform.sessions() as session:
            row = await moderation.moderate_reel(
                session,
                moderator,
                db_id_of(input.reel_id, "Reel"),
                input.action == ModerationAction.BLOCK,
                input.reason,
            )
        return ReelPayload(reel=to_reel(info, row))

    return await attempt(ReelPayload, action)


async def resolve_report(info: Info[Context, None], input: ResolveReportInput) -> ReportPayload:
    moderator = info.context.signed_in

    async def action() -> ReportPayload:
        async with info.context.platform.sessions() as session:
            row = await moderation.resolve_report(
                session, moderator, db_id_of(input.report_id, "Report"), input.status, input.note
            )
        return ReportPayload(report=Report.from_row(row))

    return await attempt(ReportPayload, action)


async def suspend_user(info: Info[Context, None], input: SuspendUserInput) -> UserPayload:
    moderator = info.context.signed_in

    async def action() -> UserPayload:
        async with info.context.platform.sessions() as session:
            row = await moderation.suspend_user(session, moderator, db_id_of(input.user_id, "User"), input.reason)
        return UserPayload(user=User.from_row(row))

    return await attempt(UserPayload, action)
