"""The thumbnail is made and shown before the ladder: while a reel is still PROCESSING its
creator's client already has a `thumbnailUrl` that serves a JPEG, and READY keeps it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from reels.media import pipeline
from reels.settings import Settings
from tests.pipeline.helpers import Clips, fetch, poll, reel, running, unique, upload, wait_for

JPEG_START = b"\xff\xd8\xff"


def test_the_thumbnail_is_shown_while_the_ladder_is_made(
    embedded_settings: Settings, clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    ladder_may_start = threading.Event()
    ladder = pipeline.transcode_ladder

    async def held_ladder(*args: Any, **kwargs: Any) -> Any:
        # Waits (off the event loop) until the test has seen the early thumbnail.
        await asyncio.to_thread(ladder_may_start.wait, 120)
        return await ladder(*args, **kwargs)

    monkeypatch.setattr(pipeline, "transcode_ladder", held_ladder)
    with running(embedded_settings) as api:
        token, _ = api.register(unique("early_thumb"))
        reel_id = upload(api, token, clips.small)
        try:
            early = poll(
                lambda: (current := reel(api, reel_id, token)) and current["thumbnailUrl"] and current, "a thumbnail"
            )
            assert early["status"] == "PROCESSING", early
            assert early["playback"] is None, early
            assert fetch(api, early["thumbnailUrl"]).startswith(JPEG_START)
        finally:
            ladder_may_start.set()
        ready = wait_for(api, reel_id, token, {"READY"})
    assert ready["playback"] is not None, ready
    assert ready["thumbnailUrl"] is not None, ready
