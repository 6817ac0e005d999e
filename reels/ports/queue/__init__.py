"""Work-queue port: at-least-once jobs with partitions, consumer groups, retries, dead letters
and priority lanes. In-process adapter for the embedded setup, Redis Streams in production."""

from __future__ import annotations

from reels.ports.queue.base import LANES, DeadLetter, Message, WorkQueue, partition_for
from reels.ports.queue.memory import MemoryWorkQueue
from reels.ports.queue.redis import RedisWorkQueue
from reels.settings import Settings

__all__ = [
    "LANES",
    "DeadLetter",
    "MemoryWorkQueue",
    "Message",
    "RedisWorkQueue",
    "WorkQueue",
    "from_settings",
    "partition_for",
]


def from_settings(settings: Settings) -> WorkQueue:
    if settings.redis_url:
        return RedisWorkQueue.from_url(settings.redis_url)
    return MemoryWorkQueue()
