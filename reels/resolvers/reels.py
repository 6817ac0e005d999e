"""Reel reads: one reel under the visibility rule, and the reel lists of a creator, hashtag or sound."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from reels.dataloaders import PageKey, PopularPageKey
from reels.domain.models import Reel
from reels.domain.visibility import can_see_reel, creator_suspended, is_listed
from reels.resolvers.context import Context
from reels.resolvers.pages import Page


async def visible_reel(context: Context, reel_id: int | None) -> Reel | None:
    """The reel if it exists and the viewer may see it; None otherwise (no existence leak)."""
    if reel_id is None:
        return None
    loaders = context.loaders
    row = await loaders.reel_by_id.load(reel_id)
    if row is None:
        return None
    relation, creator = await asyncio.gather(
        loaders.viewer_relation_to.load(row.creator_id), loaders.user_by_id.load(row.creator_id)
    )
    seen = can_see_reel(
        row,
        context.viewer,
        viewer_follows_creator=relation.follows,
        blocked_either_way=relation.blocked_either_way,
        creator_suspended=creator_suspended(creator),
    )
    return row if seen else None


async def listed_reels(context: Context, rows: Sequence[Reel]) -> list[Reel]:
    """The rows a list may show the viewer: the rule's last word on what a query found under
    its SQL form (blocks, which SQL cannot see, included)."""
    creators = [row.creator_id for row in rows]
    relations, creator_rows = await asyncio.gather(
        context.loaders.viewer_relation_to.load_many(creators), context.loaders.user_by_id.load_many(creators)
    )
    return [
        row
        for row, relation, creator in zip(rows, relations, creator_rows, strict=True)
        if is_listed(
            row,
            context.viewer,
            viewer_follows_creator=relation.follows,
            blocked_either_way=relation.blocked_either_way,
            creator_suspended=creator_suspended(creator),
        )
    ]


async def reels_of_creator(context: Context, creator_id: int, first: int, after: int | None) -> Page[Reel]:
    follows = (await context.loaders.viewer_relation_to.load(creator_id)).follows
    key = PageKey(creator_id, first, after, include_followers_only=follows)
    return await listed_page(context, await context.loaders.reel_pages_by_creator.load(key), first)


async def reels_with_hashtag(context: Context, hashtag_id: int, first: int, after: int | None) -> Page[Reel]:
    rows = await context.loaders.reel_pages_by_hashtag.load(PageKey(hashtag_id, first, after))
    return await listed_page(context, rows, first)


async def reels_with_audio(context: Context, audio_id: int, first: int, after: int | None) -> Page[Reel]:
    rows = await context.loaders.reel_pages_by_audio.load(PageKey(audio_id, first, after))
    return await listed_page(context, rows, first)


async def popular_reels_with_hashtag(
    context: Context, hashtag_id: int, first: int, after: tuple[int, int] | None
) -> Page[Reel]:
    rows = await context.loaders.popular_reel_pages_by_hashtag.load(PopularPageKey(hashtag_id, first, after))
    return await _popular_page(context, rows, first)


async def popular_reels_with_audio(
    context: Context, audio_id: int, first: int, after: tuple[int, int] | None
) -> Page[Reel]:
    rows = await context.loaders.popular_reel_pages_by_audio.load(PopularPageKey(audio_id, first, after))
    return await _popular_page(context, rows, first)


async def _popular_page(context: Context, fetched: Sequence[tuple[Reel, int]], first: int) -> Page[Reel]:
    """A page from `first + 1` (reel, popularity) rows: each cursor is (popularity, id)."""
    scores = {reel.id: score for reel, score in fetched}
    listed = await listed_reels(context, [reel for reel, _ in fetched])
    return Page(listed[:first], len(listed) > first, position=lambda reel: (scores[reel.id], reel.id))


async def hashtag_reel_count(context: Context, hashtag_id: int) -> int:
    """The hashtag's reels the viewer may see, not every reel tagged."""
    return await context.loaders.listed_reel_count_by_hashtag.load(hashtag_id)


async def audio_use_count(context: Context, audio_id: int) -> int:
    """The sound's reels the viewer may see, not every reel using it."""
    return await context.loaders.listed_reel_count_by_audio.load(audio_id)


async def listed_page(context: Context, fetched: Sequence[Reel], first: int) -> Page[Reel]:
    """A page from `first + 1` rows a query found under the rule in SQL."""
    return Page.of(await listed_reels(context, fetched), first)
