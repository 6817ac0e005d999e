""" "Not interested": the reel leaves the viewer's feeds for good, and for REELS_NOT_INTERESTED_DAYS
its creator and hashtags are demoted (a negative signal for the ranker and the re-ranking).

Marks are one sorted set per viewer in the key-value port (`r:`, `c:` and `t:` members scored by
when), plus counters in the feature store: the viewer's marks on the creator and the reel's
"not interested" count, which the heads and the score's penalty read.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from reels.domain.feed_features import creator_key, reel_key, user_key
from reels.domain.models import Reel, User
from reels.ports.kv import KeyValue

MARKS_KEPT = 2000


def _marks_key(user_id: int) -> str:
    return f"feed:nope:{user_id}"


@dataclass(frozen=True)
class Demotions:
    reels: set[int] = field(default_factory=set)
    creators: Counter[int] = field(default_factory=Counter)  # marks within the window, per creator
    hashtags: set[str] = field(default_factory=set)


def is_mark_count(field: str) -> bool:
    """A feature-hash field these marks keep (a reel's or creator's "nope", a viewer's marks on a
    creator): the stored history cannot give them back, so a rebuild of the store keeps them."""
    return field == "nope" or (field.startswith("c:") and field.endswith(":n"))


async def not_interested(kv: KeyValue, viewer: User, reel: Reel, hashtags: Sequence[str]) -> None:
    now = time.time()
    marks = {f"r:{reel.id}": now, f"c:{reel.creator_id}:{reel.id}": now}
    marks |= {f"t:{name}": now for name in hashtags}
    await kv.zadd(_marks_key(viewer.id), marks)
    extra = await kv.zrange_desc(_marks_key(viewer.id), MARKS_KEPT, -1)
    if extra:
        await kv.zrem(_marks_key(viewer.id), *(member for member, _ in extra))
    await kv.hincr(user_key(viewer.id), {f"c:{reel.creator_id}:n": 1})
    await kv.hincr(reel_key(reel.id), {"nope": 1})
    await kv.hincr(creator_key(reel.creator_id), {"nope": 1})


async def demotions(kv: KeyValue, user_id: int | None, days: float) -> Demotions:
    if user_id is None:
        return Demotions()
    since = time.time() - days * 24 * 3600
    found = Demotions()
    for member, at in await kv.zrange_desc(_marks_key(user_id), 0, -1):
        kind, _, rest = member.partition(":")
        if kind == "r":
            found.reels.add(int(rest))
        elif at >= since and kind == "c":
            found.creators[int(rest.partition(":")[0])] += 1
        elif at >= since and kind == "t":
            found.hashtags.add(rest)
    return found
