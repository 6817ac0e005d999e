"""Loading ahead: what a query selects below the field being resolved, and the loads of a page
of reels' fields done in one go before those fields resolve."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from reels.domain import models
from reels.resolvers.context import Context

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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


def _load_ahead(loader: DataLoader[K, V], keys: Iterable[K]) -> Awaitable[None] | None:
    """Load in one batch the keys the request has not asked for yet, and keep their values at
    hand; None when there are none. No future is made for a key and none gathered (a page's 20
    keys were 20 futures, 20 callbacks and a gather a loader), and a loader whose keys all came
    with the page's reads (creators, likes) costs nothing."""
    missing = [key for key in dict.fromkeys(keys) if loader.cache_map.get(key) is None]
    return _prime(loader, missing) if missing else None


async def _prime(loader: DataLoader[K, V], keys: list[K]) -> None:
    values = await loader.load_fn(keys)
    # An error for a key is left for its field to meet when it loads the key itself.
    loader.prime_many(
        {key: value for key, value in zip(keys, values, strict=True) if not isinstance(value, BaseException)}
    )


# What a reel's fields load, by field name: `prefetch` loads it for a whole page at once.
_PREFETCHED = {
    "creator": lambda loaders, rows: _load_ahead(loaders.user_by_id, [row.creator_id for row in rows]),
    "counts": lambda loaders, rows: _load_ahead(loaders.counts_by_reel, [row.id for row in rows]),
    "viewerHasLiked": lambda loaders, rows: _load_ahead(loaders.viewer_likes_reel, [row.id for row in rows]),
}


async def prefetch_reels(info: Info[Context, None], rows: Sequence[models.Reel], *path: str) -> None:
    """Load what the query asks of `rows` (its selection at `path` below the field resolving) in
    one go, before their fields resolve: each field then finds its value at hand (`ready`)."""
    wanted = selected_names(info, path) & _PREFETCHED.keys()
    if rows and wanted:
        loads = [load for name in wanted if (load := _PREFETCHED[name](info.context.loaders, rows)) is not None]
        if loads:
            await (loads[0] if len(loads) == 1 else asyncio.gather(*loads))
