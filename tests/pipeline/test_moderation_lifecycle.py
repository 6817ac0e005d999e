"""Moderators block and restore reels; the counts that follow a reel's status move with it, and
the status change reaches `reelStatus` subscribers."""

from __future__ import annotations

from typing import Any

from reels.domain import events
from reels.domain.events import ReelStatusChanged
from reels.domain.models import ReelStatus
from reels.schema.globalid import db_id_of
from tests.conftest import Api
from tests.pipeline.helpers import (
    DELETE,
    Clips,
    Stack,
    StatusWatcher,
    call,
    poll,
    reel,
    running,
    unique,
    upload,
    wait_for,
)
from tests.pipeline.test_lifecycle import make_moderator

MODERATE = """
mutation Moderate($input: ModerateReelInput!) {
  moderateReel(input: $input) { reel { id status statusReason } userErrors { field message code } }
}"""
HASHTAG = "query Tag($name: String!) { hashtag(name: $name) { reelCount reels(first: 5) { edges { node { id } } } } }"
SOUND = "query Sound($id: ID!) { node(id: $id) { ... on Audio { useCount } } }"


def moderate(api: Api, token: str, reel_id: str, action: str, reason: str = "reviewed") -> dict[str, Any]:
    variables = {"input": {"reelId": reel_id, "action": action, "reason": reason}}
    return api.data(MODERATE, variables, token)["moderateReel"]


def tagged(api: Api, tag: str) -> tuple[int, list[str]]:
    """The hashtag's reelCount and the reels its page lists, as anyone sees them."""
    hashtag = api.data(HASHTAG, {"name": tag})["hashtag"]
    return hashtag["reelCount"], [edge["node"]["id"] for edge in hashtag["reels"]["edges"]]


def use_count(api: Api, audio_id: str) -> int:
    return api.data(SOUND, {"id": audio_id})["node"]["useCount"]


def moderator_token(api: Api) -> str:
    name = unique("moderator")
    token, _ = api.register(name)
    call(api, make_moderator, name)
    return token


def test_block_and_restore_move_the_hashtag_and_sound_counts_with_the_reel(stack: Stack, clips: Clips) -> None:
    with running(stack.settings) as api:
        creator, _ = api.register(unique("creator"))
        moderator = moderator_token(api)
        tag = unique("tag")
        reel_id = upload(api, creator, clips.small, caption=f"#{tag}")
        sound_id = wait_for(api, reel_id, creator, {"READY"})["audio"]["id"]
        assert tagged(api, tag) == (1, [reel_id])
        assert use_count(api, sound_id) == 1

        refused = moderate(api, moderator, reel_id, "RESTORE")
        assert refused["reel"] is None
        assert refused["userErrors"] == [
            {"field": ["input", "action"], "message": "only a blocked or held reel can be restored", "code": "INVALID"}
        ]

        blocked = moderate(api, moderator, reel_id, "BLOCK", "spam")
        assert blocked["userErrors"] == []
        assert blocked["reel"] == {"id": reel_id, "status": "BLOCKED", "statusReason": "spam"}
        assert reel(api, reel_id, None) is None  # gone for the public
        assert tagged(api, tag) == (0, [])
        assert use_count(api, sound_id) == 0
        again = moderate(api, moderator, reel_id, "BLOCK")
        assert [(e["field"], e["code"]) for e in again["userErrors"]] == [(["input", "action"], "INVALID")]
        assert tagged(api, tag) == (0, [])  # a refused block moves nothing

        restored = moderate(api, moderator, reel_id, "RESTORE")
        assert restored["userErrors"] == []
        assert restored["reel"] == {"id": reel_id, "status": "READY", "statusReason": None}
        assert reel(api, reel_id, None)["status"] == "READY"
        assert tagged(api, tag) == (1, [reel_id])
        assert use_count(api, sound_id) == 1


def test_deleting_a_blocked_reel_leaves_the_counts_as_blocking_left_them(embedded_settings, clips: Clips) -> None:
    with running(embedded_settings) as api:
        creator, _ = api.register(unique("creator"))
        moderator = moderator_token(api)
        tag = unique("tag")
        reel_id = upload(api, creator, clips.small, caption=f"#{tag}")
        sound_id = wait_for(api, reel_id, creator, {"READY"})["audio"]["id"]
        assert moderate(api, moderator, reel_id, "BLOCK")["userErrors"] == []
        assert (tagged(api, tag), use_count(api, sound_id)) == ((0, []), 0)

        deleted = api.data(DELETE, {"input": {"reelId": reel_id}}, creator)["deleteReel"]
        assert deleted["userErrors"] == []
        assert (tagged(api, tag), use_count(api, sound_id)) == ((0, []), 0)  # not taken off twice
        gone = moderate(api, moderator, reel_id, "RESTORE")
        assert [(e["field"], e["code"]) for e in gone["userErrors"]] == [(["input", "reelId"], "NOT_FOUND")]
        assert (tagged(api, tag), use_count(api, sound_id)) == ((0, []), 0)


def test_deleting_a_ready_reel_takes_it_off_its_hashtag_and_sound(embedded_settings, clips: Clips) -> None:
    with running(embedded_settings) as api:
        creator, _ = api.register(unique("creator"))
        tag = unique("tag")
        reel_id = upload(api, creator, clips.small, caption=f"#{tag}")
        sound_id = wait_for(api, reel_id, creator, {"READY"})["audio"]["id"]
        assert api.data(DELETE, {"input": {"reelId": reel_id}}, creator)["deleteReel"]["userErrors"] == []
        assert (tagged(api, tag), use_count(api, sound_id)) == ((0, []), 0)


async def announce_status(platform, reel_id: str) -> None:
    """A status event saying what the reel already is: a subscriber re-reads it and answers."""
    db_id = db_id_of(reel_id, "Reel")
    await events.publish(platform.pubsub, ReelStatusChanged(db_id, ReelStatus.UPLOADED))


def test_a_block_reaches_the_creators_reel_status_subscription(embedded_settings, clips: Clips) -> None:
    with running(embedded_settings, workers=False) as api:  # the reel stays UPLOADED
        creator, _ = api.register(unique("creator"))
        moderator = moderator_token(api)
        reel_id = upload(api, creator, clips.random_bytes)
        watcher = StatusWatcher(api, creator, reel_id)
        try:
            # Live once an event reaches it (the protocol does not say when a subscription is).
            poll(lambda: call(api, announce_status, reel_id) or watcher.next_status(0.2), "a live subscription")
            assert moderate(api, moderator, reel_id, "BLOCK", "not allowed")["userErrors"] == []
            seen = [status for status in watcher.statuses_until_final() if status != "UPLOADED"]
            assert seen == ["BLOCKED"]  # the block's own event: the subscription was live before it
        finally:
            watcher.close()
        assert reel(api, reel_id, creator)["statusReason"] == "not allowed"
        never_processed = moderate(api, moderator, reel_id, "RESTORE")["userErrors"]
        assert [(e["message"], e["code"]) for e in never_processed] == [
            ("this reel was never processed; it cannot be restored", "INVALID")
        ]
