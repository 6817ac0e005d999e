"""The follow-graph port's interface, value types and the rules its adapters share: follows,
blocks and mutes between users.

Follows are strongly consistent: `follow` answers only after its edge is committed, and every
adapter reads from the primary, so the next read from any API process sees it. A block hides
each user from the other everywhere: it removes the follows in both directions and refuses new
ones either way. A mute only takes the muted creator out of the muter's feeds.

Adapters: `sql.SqlFollowGraph` (embedded default, the `follows`/`blocks`/`mutes` tables) and
`bolt.BoltFollowGraph` (Neo4j, or anything speaking Bolt and the portable Cypher subset).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

# Keyset position in a followers/following list: (created_at_ms, user_id) of the last edge seen.
Cursor = tuple[int, int]


class FollowResult(enum.StrEnum):
    CREATED = "CREATED"
    ALREADY = "ALREADY"  # the edge existed: nothing changed
    SELF = "SELF"  # following yourself is not allowed
    BLOCKED = "BLOCKED"  # a block in either direction forbids it


@dataclass(frozen=True)
class Edge:
    """One row of a followers/following list: the other user and when the follow happened."""

    user_id: int
    created_at_ms: int

    @property
    def cursor(self) -> Cursor:
        return (self.created_at_ms, self.user_id)


@dataclass(frozen=True)
class Page:
    """Up to `first` edges, newest first (ties by user id, descending)."""

    edges: list[Edge]
    has_next: bool


@dataclass(frozen=True)
class Suggestion:
    user_id: int
    paths: int  # how many people the user follows also follow this one


@dataclass(frozen=True)
class Relations:
    """How one user stands to each of some others, from one look-up."""

    follows: frozenset[int]  # those of the others the user follows
    muted: frozenset[int]  # those of the others the user mutes
    blocked_either_way: frozenset[int]  # those of the others the user blocks or is blocked by


# The kind of each (kind, user id) row an adapter's relations look-up gives.
FOLLOWS, MUTES, BLOCKS = "follows", "mutes", "blocks"


def relations_of(rows: Iterable[tuple[str, int]]) -> Relations:
    """Sort (kind, user id) rows into Relations; a pair blocked both ways may come twice."""
    kinds: dict[str, set[int]] = {FOLLOWS: set(), MUTES: set(), BLOCKS: set()}
    for kind, user_id in rows:
        kinds[kind].add(user_id)
    return Relations(frozenset(kinds[FOLLOWS]), frozenset(kinds[MUTES]), frozenset(kinds[BLOCKS]))


class FollowGraph(Protocol):
    async def follow(self, follower: int, followee: int) -> FollowResult: ...

    async def unfollow(self, follower: int, followee: int) -> bool:
        """True if an edge was removed; unfollowing twice is harmless."""

    async def followers(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        """Who follows `user`, newest first, starting after the cursor of the last edge seen."""

    async def following(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        """Whom `user` follows, newest first, starting after the cursor of the last edge seen."""

    async def follow_counts(self, users: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(followers, following) of every given user, in one round trip; (0, 0) if unknown."""

    async def which_followed(self, follower: int, candidates: Sequence[int]) -> set[int]:
        """The `candidates` that `follower` follows, in one round trip."""

    async def followers_among(self, followee: int, candidates: Sequence[int]) -> set[int]:
        """The `candidates` who follow `followee`, in one round trip."""

    async def relations(self, user: int, others: Sequence[int]) -> Relations:
        """Whom of `others` `user` follows, mutes and blocks or is blocked by, in one round trip."""

    async def followees(self, user: int, *, limit: int = 5000) -> list[int]:
        """Whom `user` follows, newest follow first: the feed's candidate sources."""

    async def block(self, blocker: int, blocked: int) -> None:
        """Block and drop the follows both ways; blocking twice is harmless."""

    async def blocked_either_way(self, user: int, others: Sequence[int]) -> set[int]:
        """The `others` that `user` blocks or is blocked by, in one round trip."""

    async def unblock(self, blocker: int, blocked: int) -> None:
        """Lift the block (the follows it removed stay removed); harmless when there is none."""

    async def blocked(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        """Whom `user` blocks, newest block first (each edge's time is the block's)."""

    async def blocked_ids(self, blocker: int) -> set[int]: ...

    async def mute(self, muter: int, muted: int) -> None: ...

    async def unmute(self, muter: int, muted: int) -> None:
        """Harmless when there is no mute."""

    async def muted(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        """Whom `user` mutes, newest mute first (each edge's time is the mute's)."""

    async def muted_ids(self, muter: int) -> set[int]: ...

    async def suggestions(self, user: int, *, limit: int = 20) -> list[Suggestion]:
        """People followed by those `user` follows, excluding `user`, anyone already followed
        and anyone blocked either way; most paths first, then by id."""

    async def ping(self) -> None:
        """Raise if the store cannot answer a query."""

    async def close(self) -> None: ...


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def check_page_size(first: int) -> None:
    if first < 0:
        raise ValueError(f"first must be >= 0, got {first}")


def check_not_self(actor: int, target: int, action: str) -> None:
    if actor == target:
        raise ValueError(f"a user cannot {action} themselves")


def page_of(edges: list[Edge], first: int) -> Page:
    """Adapters fetch `first + 1` edges: the extra one only tells that another page exists."""
    return Page(edges=edges[:first], has_next=len(edges) > first)
