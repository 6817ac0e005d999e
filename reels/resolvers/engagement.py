"""Likes, shares, views and comments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from strawberry.types import Info

from reels.domain import engagement
from reels.domain.errors import not_found
from reels.domain.models import Reel as ReelRow
from reels.resolvers.mutations import attempt
from reels.resolvers.reels import to_reel, visible_reel
from reels.schema.context import Context
from reels.schema.globalid import db_id_of
from reels.schema.inputs import AddCommentInput, DeleteCommentInput, FeedContext, RecordViewInput, ReelInput
from reels.schema.payloads import CommentPayload, RecordViewPayload, ReelPayload
from reels.schema.types import Comment

SESSION_HEADER = "x-reels-session"


async def _visible_row(info: Info[Context, None], reel_id: str) -> ReelRow:
    """The reel's row if the viewer may see it; NOT_FOUND otherwise (hidden reels do not exist)."""
    visible = await visible_reel(info, db_id_of(reel_id, "Reel"))
    if visible is None:
        raise not_found("reel", ["input", "reelId"])
    return await info.context.loaders.reel_by_id.load(visible.db_id)


async def _reel_mutation(
    info: Info[Context, None], input: ReelInput, act: Callable[[ReelRow], Awaitable[object]]
) -> ReelPayload:

    async def action() -> ReelPayload:
        reel = await _visible_row(info, input.reel_id)
        await act(reel)
        return ReelPayload(reel=to_reel(info, reel))

    return await attempt(ReelPayload, action)


async def like_reel(info: Info[Context, None], input: ReelInput) -> ReelPayload:
    p, viewer = info.context.platform, info.context.viewer
    return await _reel_mutation(
        info, input, lambda reel: engagement.like(p.sessions, p.kv, p.queue, p.pubsub, viewer, reel)
    )


async def unlike_reel(info: Info[Context, None], input: ReelInput) -> ReelPayload:
    p, viewer = info.context.platform, info.context.viewer
    return await _reel_mutation(info, input, lambda reel: engagement.unlike(p.sessions, p.kv, p.queue, viewer, reel))


async def share_reel(info: Info[Context, None], input: ReelInput) -> ReelPayload:
    p, viewer = info.context.platform, info.context.viewer
    return await _reel_mutation(info, input, lambda reel: engagement.share(p.kv, p.queue, viewer, reel))


async def record_view(info: Info[Context, None], input: RecordViewInput) -> RecordViewPayload:
    """Anonymous viewers are told apart by `sessionId` (or the X-Reels-Session header)."""
    platform = info.context.platform
    request = info.context.request
    session_id = input.session_id or (request.headers.get(SESSION_HEADER) if request is not None else None)

    async def action() -> RecordViewPayload:
        reel = await _visible_row(info, input.reel_id)
        viewer = engagement.Viewer(user=info.context.viewer, session_id=(session_id or "")[:100] or None)
        counted = await engagement.record_view(
            platform.sessions,
            platform.kv,
            platform.queue,
            viewer,
            reel,
            watched_ms=input.watched_ms,
            completed=input.completed,
            window_s=platform.settings.view_window_s,
            context=_watch_context(input.context),
        )
        return RecordViewPayload(counted=counted)

    return await attempt(RecordViewPayload, action)


def _watch_context(feed: FeedContext | None) -> dict[str, str | None]:
    if feed is None:
        return {}
    return {
        "network": feed.network.value if feed.network else None,
        "device": feed.device.value if feed.device else None,
        "region": feed.region,
    }


async def add_comment(info: Info[Context, None], input: AddCommentInput) -> CommentPayload:
    author = info.context.signed_in
    p = info.context.platform

    async def action() -> CommentPayload:
        reel = await _visible_row(info, input.reel_id)
        comment = await engagement.add_comment(p.sessions, p.kv, p.queue, p.pubsub, author, reel, input.text)
        return CommentPayload(comment=Comment.from_row(comment))

    return await attempt(CommentPayload, action)


async def delete_comment(info: Info[Context, None], input: DeleteCommentInput) -> CommentPayload:
    actor = info.context.signed_in
    p = info.context.platform

    async def action() -> CommentPayload:
        comment = await engagement.delete_comment(p.sessions, p.queue, actor, db_id_of(input.comment_id, "Comment"))
        return CommentPayload(comment=Comment.from_row(comment))

    return await attempt(CommentPayload, action)
