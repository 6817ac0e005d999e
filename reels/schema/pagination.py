"""Page sizes of connections and lists."""

from __future__ import annotations

PAGE = 20  # the contract's default `first`
SEARCH_PAGE = 10


def page_size(first: int | None, default: int = PAGE) -> int:
    """`first` as asked; an explicit null means the default (the limits extension has already
    refused sizes outside 0–100)."""
    return default if first is None else first
