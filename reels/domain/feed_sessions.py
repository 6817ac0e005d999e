"""Feed sessions and what each viewer was served, in the key-value port.

A session is one ranked list of reels (about REELS_FEED_LIST_SIZE, extended list by list as the
client scrolls) cached for REELS_FEED_SESSION_TTL_S under the viewer's key and a random session
number. A cursor is one number: the session number and a position in its list, so a page is one
read of the list and never repeats a reel (a reel enters a session's list once).

Per viewer (a signed-in user, or an anonymous client's session id) two logs, newest kept:
**served** (every reel a page returned: a new session leaves them out, so pull-to-refresh gives new
reels) and **watched** (every reel a view was recorded for, however short, written by the
aggregator: when unseen reels run out, served-but-unwatched ones come back first, watched last). A list built ahead in the background waits under the
viewer's key until the session scrolls to it, or the next session starts with it.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from reels.ports.kv import KeyValue

POSITION_BITS = 20  # positions within one session: a million reels of scrolling
MAX_SESSION = 2**31
LOG_SIZE = 5000
LOG_TTL_S = 30 * 24 * 3600.0


class Source(enum.StrEnum):
    """Why a reel is in the list (the edge's `reason.source`)."""

    FOLLOWING = "FOLLOWING"
    SIMILAR = "SIMILAR"
    TRENDING = "TRENDING"
    FRESH = "FRESH"


@dataclass(frozen=True, slots=True)
class Entry:
    reel_id: int
    source: Source
    score: float
    # Kept with the reel so a page checks blocks in the same round trip as follows and mutes.
    creator_id: int


def viewer_key(user_id: int | None, session_id: str | None) -> str | None:
    """Who watches: the user, else the anonymous client's session id, else nobody known (the key
    of a viewer's view windows, feed sessions and served and watched logs)."""
    if user_id is not None:
        return f"u{user_id}"
    return f"s{session_id}" if session_id else None


def new_session() -> int:
    return secrets.randbelow(MAX_SESSION - 1) + 1


def cursor_value(session: int, position: int) -> int:
    """The number a cursor carries: position `position` (the last one served) of `session`."""
    return (session << POSITION_BITS) | position


def split_cursor(value: int) -> tuple[int, int]:
    return value >> POSITION_BITS, value & ((1 << POSITION_BITS) - 1)


# In the keys of stored lists: a list stored in another format is not found (a new list is built).
LIST_FORMAT = 2


def _session_key(owner: str | None, session: int) -> str:
    return f"feed:session:{LIST_FORMAT}:{owner or '-'}:{session}"


_SOURCES = {source.value: source for source in Source}


def _encode(entries: Sequence[Entry]) -> str:
    return orjson.dumps([[e.reel_id, e.source.value, round(e.score, 6), e.creator_id] for e in entries]).decode()


def _decode(text: str | None) -> list[Entry] | None:
    """Our own list, as `_encode` wrote it (a page reads the whole list: orjson, and no checks)."""
    if text is None:
        return None
    return [
        Entry(reel_id, _SOURCES[source], score, creator_id) for reel_id, source, score, creator_id in orjson.loads(text)
    ]


async def load(kv: KeyValue, owner: str | None, session: int, ttl_s: float) -> list[Entry] | None:
    """The session's list, which lives `ttl_s` from now on (a session lives on while it is read)."""
    return _decode(await kv.get(_session_key(owner, session), ttl_s=ttl_s))


async def save(kv: KeyValue, owner: str | None, session: int, entries: Sequence[Entry], ttl_s: float) -> None:
    await kv.set(_session_key(owner, session), _encode(entries), ttl_s=ttl_s)


def _ahead_key(owner: str) -> str:
    return f"feed:ahead:{LIST_FORMAT}:{owner}"


def _claim_key(owner: str) -> str:
    return f"feed:building:{owner}"


async def claim_next_list(kv: KeyValue, owner: str, ttl_s: float) -> bool:
    """Whether the caller is to have the viewer's next list built: no build is under way and no
    list waits ahead (across processes). One round trip: the claim outlives the build, held
    for as long as the list it put ahead waits (`put_ahead`), until that list is taken
    (`take_ahead`) or the build fails (`drop_claim`). `ttl_s` bounds a build that never ends."""
    return await kv.set(_claim_key(owner), "1", ttl_s=ttl_s, only_if_absent=True)


async def drop_claim(kv: KeyValue, owner: str) -> None:
    """The build ended without a list: the next page near the end may claim it again."""
    await kv.delete(_claim_key(owner))


async def put_ahead(kv: KeyValue, owner: str, entries: Sequence[Entry], ttl_s: float) -> None:
    """The next list, waiting to be taken; its claim lives as long, so no other is built meanwhile.
    The claim is written first: a list taken between the two writes would leave it held."""
    await kv.set_many({_claim_key(owner): "1", _ahead_key(owner): _encode(entries)}, ttl_s=ttl_s)


async def take_ahead(kv: KeyValue, owner: str) -> list[Entry] | None:
    found = _decode(await kv.get(_ahead_key(owner)))
    if found is not None:
        await kv.delete(_ahead_key(owner), _claim_key(owner))
    return found


async def has_ahead(kv: KeyValue, owner: str) -> bool:
    return await kv.get(_ahead_key(owner)) is not None


def _served_key(owner: str) -> str:
    return f"feed:served:{owner}"


def _watched_key(owner: str) -> str:
    return f"feed:watched:{owner}"


async def mark_served(kv: KeyValue, owner: str, reel_ids: Iterable[int], at: float) -> None:
    await kv.zadd_capped(
        {_served_key(owner): {str(reel_id): at for reel_id in reel_ids}}, keep=LOG_SIZE, ttl_s=LOG_TTL_S
    )


async def mark_watched(kv: KeyValue, watched: Mapping[str, Iterable[int]], at: float) -> None:
    """Log what each viewer ({owner: reel ids}) watched, all in one batch (an aggregator flush's)."""
    await kv.zadd_capped(
        {_watched_key(owner): {str(reel_id): at for reel_id in reel_ids} for owner, reel_ids in watched.items()},
        keep=LOG_SIZE,
        ttl_s=LOG_TTL_S,
    )


async def served_and_watched(kv: KeyValue, owner: str | None) -> tuple[set[int], list[int]]:
    """The reels served to the viewer, and those they watched, newest first."""
    if owner is None:
        return set(), []
    served, watched = await asyncio.gather(
        kv.zrange_desc(_served_key(owner), 0, LOG_SIZE - 1), kv.zrange_desc(_watched_key(owner), 0, LOG_SIZE - 1)
    )
    return {int(member) for member, _ in served}, [int(member) for member, _ in watched]
