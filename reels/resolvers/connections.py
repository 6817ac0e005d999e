"""Relay connections from keyset pages (rows newest first, `first + 1` fetched)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError

from reels.schema.globalid import decode_cursor, encode_cursor
from reels.schema.types import PageInfo

Node = TypeVar("Node")


def after_id(after: str | None) -> int | None:
    """The keyset position of an `after` cursor; a clear error for a malformed one."""
    try:
        decoded = decode_cursor(after)
    except ValueError:
        raise GraphQLError("`after` is not a cursor this API issued", extensions={"code": "INVALID"}) from None
    return decoded[0] if decoded else None


def page(
    rows: Sequence[Any],
    first: int,
    to_node: Callable[[Any], Node],
    edge_type: Callable[..., Any],
    key: Callable[[Any], tuple[int, ...]] = lambda row: (row.id,),
) -> tuple[list[Any], PageInfo]:
    """Edges for the first `first` rows and the PageInfo telling whether more exist."""
    visible = rows[:first]
    edges = [edge_type(cursor=encode_cursor(*key(row)), node=to_node(row)) for row in visible]
    return edges, PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None)
