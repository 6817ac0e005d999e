"""Keyset pages, newest first, as resolvers hand them to the connection types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")


def by_id(row: Any) -> tuple[int, ...]:
    return (row.id,)


@dataclass(frozen=True)
class Page(Generic[Row]):
    """Rows in order, whether more follow, and each row's keyset position (its cursor)."""

    rows: list[Row]
    has_next: bool
    position: Callable[[Row], tuple[int, ...]] = field(default=by_id)

    @classmethod
    def of(cls, fetched: Sequence[Row], first: int) -> Page[Row]:
        """From `first + 1` rows fetched: the extra one only says a next page exists."""
        return cls(list(fetched[:first]), len(fetched) > first)
