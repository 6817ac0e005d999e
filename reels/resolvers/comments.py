"""Comment reads."""

from __future__ import annotations

from strawberry.types import Info

from reels.dataloaders import PageKey
from reels.resolvers.connections import after_id, page
from reels.schema.context import Context
from reels.schema.types import Comment, CommentConnection, CommentEdge


async def comments_of_reel(info: Info[Context, None], reel_id: int, first: int, after: str | None) -> CommentConnection:
    loaders = info.context.loaders
    rows = await loaders.comment_pages_by_reel.load(PageKey(reel_id, first, after_id(after)))
    hidden = await loaders.viewer_blocked_either_way.load_many([row.author_id for row in rows])
    rows = [row for row, blocked in zip(rows, hidden, strict=True) if not blocked]
    edges, page_info = page(rows, first, Comment.from_row, CommentEdge)
    counts = await loaders.counts_by_reel.load(reel_id)
    return CommentConnection(edges=edges, page_info=page_info, total_count=counts["comments"])
