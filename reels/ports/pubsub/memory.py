"""The pub/sub port in one process: the embedded adapter."""

from __future__ import annotations

from broadcaster._backends.memory import MemoryBackend  # not re-exported; broadcaster is pinned

from reels.ports.pubsub.base import BroadcastPubSub


class MemoryPubSub(BroadcastPubSub):
    """In-process: publishers and subscribers in one process (broadcaster's memory:// backend)."""

    def __init__(self) -> None:
        super().__init__(lambda: MemoryBackend("memory://"))
