"""The thumbnail is made and shown before the ladder: while a reel is still PROCESSING its
creator's client already has a `thumbnailUrl` that serves a JPEG (and a `reelStatus` subscriber
is told of it), and READY keeps it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from reels.domain import events
from reels.domain.events import ReelStatusChanged
from reels.domain.models import ReelStatus
from reels.media import pipeline
from reels.schema.globalid import db_id_of
from reels.settings import Settings
from tests.pipeline.helpers import (
    Clips,
    StatusWatcher,
    call,
    fetch,
    poll,
    reel,
    running,
    unique,
    upload,
    wait_for,
)

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


async def announce_processing(platform: Any, reel_id: str) -> None:
    """A status event saying what the reel already is: a subscriber re-reads it and answers."""
    await events.publish(platform.pubsub, ReelStatusChanged(db_id_of(reel_id, "Reel"), ReelStatus.PROCESSING))


def test_a_status_subscriber_gets_the_thumbnail_before_the_ladder_is_done(
    embedded_settings: Settings, clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    thumbnail_may_start, ladder_may_start = threading.Event(), threading.Event()
    thumbnail, ladder = pipeline.make_thumbnail, pipeline.transcode_ladder

    async def held_thumbnail(*args: Any, **kwargs: Any) -> Any:
        await asyncio.to_thread(thumbnail_may_start.wait, 120)
        return await thumbnail(*args, **kwargs)

    async def held_ladder(*args: Any, **kwargs: Any) -> Any:
        await asyncio.to_thread(ladder_may_start.wait, 120)
        return await ladder(*args, **kwargs)

    monkeypatch.setattr(pipeline, "make_thumbnail", held_thumbnail)
    monkeypatch.setattr(pipeline, "transcode_ladder", held_ladder)
    with running(embedded_settings) as api:
        token, _ = api.register(unique("live_thumb"))
        reel_id = upload(api, token, clips.small)
        watcher = StatusWatcher(api, token, reel_id)
        try:
            # Live once an event reaches it (the protocol does not say when a subscription is).
            live = poll(
                lambda: call(api, announce_processing, reel_id) or watcher.next_event(0.2), "a live subscription"
            )
            assert live["thumbnailUrl"] is None, live
            thumbnail_may_start.set()
            shown = poll(lambda: (event := watcher.next_event(0.2)) and event["thumbnailUrl"] and event, "a thumbnail")
            assert shown["status"] == "PROCESSING", shown
            assert fetch(api, shown["thumbnailUrl"]).startswith(JPEG_START)
            ladder_may_start.set()
            assert watcher.statuses_until_final()[-1] == "READY"
        finally:
            thumbnail_may_start.set()
            ladder_may_start.set()
            watcher.close()
