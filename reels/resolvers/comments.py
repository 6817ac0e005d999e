"""Comment reads."""

from __future__ import annotations

from reels.dataloaders import PageKey
from reels.domain.models import Comment
from reels.resolvers.context import Context
from reels.resolvers.pages import Page


async def comments_of_reel(context: Context, reel_id: int, first: int, after: int | None) -> Page[Comment]:
    """The reel's comments, newest first, without those of authors blocked either way."""
    loaders = context.loaders
    rows = await loaders.comment_pages_by_reel.load(PageKey(reel_id, first, after))
    relations = await loaders.viewer_relation_to.load_many([row.author_id for row in rows])
    return Page.of(
        [row for row, relation in zip(rows, relations, strict=True) if not relation.blocked_either_way], first
    )


async def comment_count(context: Context, reel_id: int) -> int:
    return (await context.loaders.counts_by_reel.load(reel_id))["comments"]
