"""Loading ahead: what a query selects below the field being resolved, and the loads of a page
of reels' fields done in one go before those fields resolve."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from reels.domain import models
from reels.resolvers.context import Context


def selected_names(info: Info[Any, Any], path: Sequence[str]) -> set[str]:
    """The names of the fields selected at `path` below the resolving field (fragments
    expanded): e.g. `("edges", "node")` below a connection."""
    level = [child for field in info.selected_fields for child in field.selections]
    for name in path:
        level = [child for field in _fields(level) if field.name == name for child in field.selections]
    return {field.name for field in _fields(level)}


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:  # a fragment spread or an inline fragment
            yield from _fields(selection.selections)


# What a reel's fields load, by field name: `prefetch` loads it for a whole page at once.
_PREFETCHED = {
    "creator": lambda loaders, rows: loaders.user_by_id.load_many([row.creator_id for row in rows]),
    "counts": lambda loaders, rows: loaders.counts_by_reel.load_many([row.id for row in rows]),
    "viewerHasLiked": lambda loaders, rows: loaders.viewer_likes_reel.load_many([row.id for row in rows]),
}


async def prefetch_reels(info: Info[Context, None], rows: Sequence[models.Reel], *path: str) -> None:
    """Load what the query asks of `rows` (its selection at `path` below the field resolving) in
    one go, before their fields resolve: each field then finds its value at hand (`ready`)."""
    wanted = selected_names(info, path) & _PREFETCHED.keys()
    if rows and wanted:
        await asyncio.gather(*(_PREFETCHED[name](info.context.loaders, rows) for name in wanted))
