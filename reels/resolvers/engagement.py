"""Likes, shares, views and comments."""

from __future__ import annotations

from typing import Any

from reels.domain import engagement
from reels.domain.errors import invalid, not_found
from reels.domain.models import Comment, Reel
from reels.resolvers.context import Context
from reels.resolvers.reels import visible_reel

SESSION_HEADER = "x-reels-session"


async def _visible(context: Context, reel_id: int | None) -> Reel:
    """The reel if the viewer may see it; NOT_FOUND otherwise (hidden reels do not exist)."""
    reel = await visible_reel(context, reel_id)
    if reel is None:
        raise not_found("reel", "reel_id")
    return reel


async def like_reel(context: Context, reel_id: int | None) -> Reel:
    p, reel = context.platform, await _visible(context, reel_id)
    created = await engagement.like(p.sessions, p.kv, p.queue, p.pubsub, context.signed_in, reel)
    context.loaders.show_own_like(reel.id, liked=True, counted=created)
    return reel


async def unlike_reel(context: Context, reel_id: int | None) -> Reel:
    p, reel = context.platform, await _visible(context, reel_id)
    removed = await engagement.unlike(p.sessions, p.kv, p.queue, context.signed_in, reel)
    context.loaders.show_own_like(reel.id, liked=False, counted=removed)
    return reel


async def share_reel(context: Context, reel_id: int | None) -> Reel:
    p, reel = context.platform, await _visible(context, reel_id)
    await engagement.share(p.kv, p.queue, context.signed_in, reel)
    return reel


async def record_view(
    context: Context,
    reel_id: int | None,
    *,
    watched_ms: int,
    completed: bool,
    session_id: str | None,
    where: dict[str, Any],
) -> bool:
    """Anonymous viewers are told apart by `session_id` (or the X-Reels-Session header)."""
    p, request = context.platform, context.request
    session_id = session_id or (request.headers.get(SESSION_HEADER) if request is not None else None)
    reel = await _visible(context, reel_id)
    viewer = engagement.Viewer(
        user=context.viewer, session_id=(session_id or "")[:100] or None, address=context.client_address
    )
    counted = await engagement.record_view(
        p.sessions,
        p.kv,
        p.queue,
        viewer,
        reel,
        watched_ms=watched_ms,
        completed=completed,
        window_s=p.settings.view_window_s,
        context=where,
        anonymous_per_address=p.settings.anonymous_views_per_address,
    )
    if viewer.key is None:
        # The watch is stored for the ranker, but the client is told why it did not count.
        raise invalid(f"an anonymous view needs a sessionId (or the {SESSION_HEADER} header) to count", "session_id")
    return counted


async def add_comment(context: Context, reel_id: int | None, text: str) -> Comment:
    p, reel = context.platform, await _visible(context, reel_id)
    return await engagement.add_comment(p.sessions, p.kv, p.queue, p.pubsub, p.checks, context.signed_in, reel, text)


async def delete_comment(context: Context, comment_id: int | None) -> Comment:
    p = context.platform
    return await engagement.delete_comment(p.sessions, p.queue, context.signed_in, comment_id)
