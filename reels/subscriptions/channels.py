"""Channel names and message shapes (JSON), shared by publishers and subscribers."""

from __future__ import annotations

import json
from typing import Any

from reels.ports.pubsub import PubSub


def reel_counts(reel_id: int) -> str:
    return f"reel:{reel_id}:counts"


def reel_status(reel_id: int) -> str:
    return f"reel:{reel_id}:status"


def notifications(user_id: int) -> str:
    return f"user:{user_id}:notifications"


async def publish(bus: PubSub, channel: str, message: dict[str, Any]) -> None:
    await bus.publish(channel, json.dumps(message, separators=(",", ":")))


def decode(message: str) -> dict[str, Any]:
    return json.loads(message)
