"""Key-value port: counters, caches, sorted sets, token-bucket rate limits and short locks.

`from_settings` picks the adapter once at start-up: Redis when REELS_REDIS_URL is set, otherwise
a dictionary in this process.
"""

from __future__ import annotations

from reels.ports.kv.base import KeyValue, WrongTypeError
from reels.ports.kv.leases import TokenLeases
from reels.ports.kv.memory import MemoryKeyValue
from reels.ports.kv.redis import RedisKeyValue
from reels.settings import Settings

__all__ = ["KeyValue", "MemoryKeyValue", "RedisKeyValue", "TokenLeases", "WrongTypeError", "from_settings"]


def from_settings(settings: Settings) -> KeyValue:
    if settings.redis_url:
        return RedisKeyValue.from_url(settings.redis_url)
    return MemoryKeyValue()
