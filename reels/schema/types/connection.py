"""What every type shares: the Node interface, user errors, one generic Relay connection, and
how a row of any domain is shown as its GraphQL type.

The types form cycles (a user's reels, a reel's creator), so the modules of this package never
import each other: each registers how it shows its rows (`@shows(models.Reel)`), refers to the
others with `strawberry.lazy`, and wraps the rows it hands out with `node_of`.

A list field returns `<Thing>Connection`, a subclass of `Connection[Thing]` that gives it the
contract's name; strawberry names its edge type `<Thing>Edge` from `Edge[Thing]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Self, TypeVar

import strawberry
from graphql import GraphQLError

from reels.domain import models
from reels.resolvers.pages import Page
from reels.schema.globalid import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from reels.schema.types.engagement import Comment, Notification
    from reels.schema.types.moderation import ModerationLogEntry, Report
    from reels.schema.types.reels import FeedReason, Playback, Reel
    from reels.schema.types.users import User

NodeType = TypeVar("NodeType")
Shown = TypeVar("Shown")

_SHOWN_AS: dict[type, Callable[[Any], Any]] = {}


def shows(model: type) -> Callable[[type[Shown]], type[Shown]]:
    """Class decorator: the type's `from_row` shows rows of `model`."""

    def register(cls: type[Shown]) -> type[Shown]:
        _SHOWN_AS[model] = cls.from_row  # type: ignore[attr-defined]
        return cls

    return register


def node_of(row: Any) -> Any:
    """The GraphQL object showing a row (a reel row as a `Reel`, and so on)."""
    return _SHOWN_AS[type(row)](row)


def reel_of(row: models.Reel) -> Reel:
    """A reel row as a `Reel`, for the types the `Reel` type itself refers to."""
    reel: Reel = node_of(row)
    return reel


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = strawberry.field(
        description="True when the page was asked for after a cursor: the rows up to that cursor come before it."
    )
    start_cursor: str | None


@strawberry.type
class UserError:
    field: list[str] = strawberry.field(
        description='Path of the input field at fault, e.g. ["input", "caption"]; empty when no single field is.'
    )
    message: str
    code: str = strawberry.field(
        description="Stable machine-readable code, e.g. NOT_FOUND, FORBIDDEN, INVALID, RATE_LIMITED, TOO_LONG."
    )


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str
    node: NodeType


@strawberry.type
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    page_info: PageInfo
    edge: ClassVar[Callable[..., Any]] = Edge  # what `of` makes each edge with

    @classmethod
    def of(cls, page: Page[Any], after: str | None, **fields: Any) -> Self:
        """The page's rows as edges, each with the cursor of its keyset position; `after` is
        the cursor the page was asked for after."""
        edges: list[Edge[NodeType]] = [
            cls.edge(cursor=encode_cursor(*page.position(row)), node=node_of(row)) for row in page.rows
        ]
        page_info = PageInfo(
            has_next_page=page.has_next,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
        )
        return cls(edges=edges, page_info=page_info, **fields)


@strawberry.type
class ReelEdge(Edge[Annotated["Reel", strawberry.lazy("reels.schema.types.reels")]]):
    reason: Annotated[FeedReason, strawberry.lazy("reels.schema.types.reels")] | None = strawberry.field(
        default=None, description="Why the For You feed shows the reel; null outside `feed`."
    )
    playback: Annotated[Playback, strawberry.lazy("reels.schema.types.reels")] | None = strawberry.field(
        default=None,
        description="The renditions fitting the feed's `context.device` (LOW: up to 480p); the startup segment is "
        "the lowest rung's. Null outside `feed`.",
    )


@strawberry.type
class ReelConnection(Connection[Annotated["Reel", strawberry.lazy("reels.schema.types.reels")]]):
    edges: list[ReelEdge]  # type: ignore[assignment]  # an edge type of its own, with the feed's fields
    edge: ClassVar[Callable[..., Any]] = ReelEdge


@strawberry.type
class CommentConnection(Connection[Annotated["Comment", strawberry.lazy("reels.schema.types.engagement")]]):
    total_count: int


@strawberry.type
class UserConnection(Connection[Annotated["User", strawberry.lazy("reels.schema.types.users")]]):
    total_count: int


@strawberry.type
class NotificationConnection(Connection[Annotated["Notification", strawberry.lazy("reels.schema.types.engagement")]]):
    total_count: int


@strawberry.type
class ReportConnection(Connection[Annotated["Report", strawberry.lazy("reels.schema.types.moderation")]]):
    pass


@strawberry.type
class ModerationLogConnection(
    Connection[Annotated["ModerationLogEntry", strawberry.lazy("reels.schema.types.moderation")]]
):
    pass


def after_position(after: str | None, parts: int = 1) -> tuple[int, ...] | None:
    """The keyset position of an `after` cursor; a clear error for a malformed one."""
    try:
        return decode_cursor(after, parts)
    except ValueError:
        raise GraphQLError("`after` is not a cursor this API issued", extensions={"code": "INVALID"}) from None


def after_id(after: str | None) -> int | None:
    """The row id an `after` cursor of a list ordered by id points at."""
    position = after_position(after)
    return position[0] if position else None


def after_edge(after: str | None) -> tuple[int, int] | None:
    """A followers/following cursor: (when the follow happened, the user)."""
    position = after_position(after, parts=2)
    return (position[0], position[1]) if position else None
