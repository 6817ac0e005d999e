"""setAvatarFromReel: a frame of the viewer's own READY reel, taken at the time asked for, becomes
`User.avatarUrl` (a signed media URL); someone else's reel, one not READY and a time outside the
reel are userErrors."""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np

from tests.conftest import Api
from tests.pipeline.helpers import Clips, Stack, call, create_upload, fetch, running, unique, upload, wait_for
from tests.pipeline.test_lifecycle import make_moderator

SET_AVATAR = """mutation Avatar($input: SetAvatarFromReelInput!) {
  setAvatarFromReel(input: $input) { user { username avatarUrl } userErrors { field message code } }
}"""
AVATAR = "query A($name: String!) { user(username: $name) { avatarUrl } }"
REPORT = "mutation R($input: ReportReelInput!) { reportReel(input: $input) { userErrors { code } } }"
MODERATE = "mutation B($input: ModerateReelInput!) { moderateReel(input: $input) { userErrors { code } } }"


def set_avatar(api: Api, token: str | None, reel_id: str, at_ms: int) -> dict[str, Any]:
    return api.data(SET_AVATAR, {"input": {"reelId": reel_id, "atMs": at_ms}}, token)["setAvatarFromReel"]


def pixels(jpeg: bytes) -> np.ndarray:
    with av.open(io.BytesIO(jpeg)) as container:
        frame = next(container.decode(video=0))
    return frame.to_ndarray(format="gray")


def test_an_avatar_is_the_frame_of_the_viewers_reel_at_the_time_asked(stack: Stack, clips: Clips) -> None:
    with running(stack.settings.model_copy(update={"auto_hide_reports": 1})) as api:
        name = unique("filmmaker")
        token, _ = api.register(name)
        other_token, _ = api.register(unique("onlooker"))
        reel_id = upload(api, token, clips.small)  # 2 s, 360×640, a pattern that moves
        duration = wait_for(api, reel_id, token, {"READY"})["durationMs"]
        assert duration >= 1900
        assert api.data(AVATAR, {"name": name})["user"]["avatarUrl"] is None

        refused = set_avatar(api, other_token, reel_id, 100)
        assert refused["user"] is None
        assert refused["userErrors"] == [
            {
                "field": ["input", "reelId"],
                "message": "an avatar can be taken from your own reels only",
                "code": "FORBIDDEN",
            }
        ]
        for at_ms in (-1, duration, 10**9):
            errors = set_avatar(api, token, reel_id, at_ms)["userErrors"]
            assert [(e["field"], e["code"]) for e in errors] == [(["input", "atMs"], "INVALID")], at_ms
            assert f"between 0 and {duration - 1}" in errors[0]["message"]

        early = set_avatar(api, token, reel_id, 100)
        assert early["userErrors"] == [] and early["user"]["username"] == name
        early_pixels = pixels(fetch(api, early["user"]["avatarUrl"]))
        assert early_pixels.shape == (320, 320)  # the middle square of a portrait frame

        late = set_avatar(api, token, reel_id, 1800)["user"]["avatarUrl"]
        assert late != early["user"]["avatarUrl"]  # a new key: no cache shows the old one
        assert api.data(AVATAR, {"name": name})["user"]["avatarUrl"].split("?")[0] == late.split("?")[0]
        late_pixels = pixels(fetch(api, late))
        difference = np.abs(early_pixels.astype(int) - late_pixels.astype(int)).mean()
        assert difference > 2, difference  # another moment of the reel, not the same frame

        # Not shown while the reel is blocked, or held for review (one report here); back when a
        # moderator restores it.
        moderator = unique("moderator")
        moderator_token, _ = api.register(moderator)
        call(api, make_moderator, moderator)

        def avatar_shown() -> bool:
            return api.data(AVATAR, {"name": name})["user"]["avatarUrl"] is not None

        def moderate(action: str) -> None:
            decision = {"reelId": reel_id, "action": action, "reason": "a second look"}
            assert api.data(MODERATE, {"input": decision}, moderator_token)["moderateReel"]["userErrors"] == []

        moderate("BLOCK")
        assert not avatar_shown()
        moderate("RESTORE")
        assert avatar_shown()
        report = {"reelId": reel_id, "reason": "NUDITY"}
        assert api.data(REPORT, {"input": report}, other_token)["reportReel"]["userErrors"] == []
        assert not avatar_shown()
        moderate("RESTORE")
        assert avatar_shown()


def test_avatars_come_from_the_viewers_own_ready_reels_within_their_length(stack: Stack, clips: Clips) -> None:
    with running(stack.settings, workers=False) as api:
        token, _ = api.register(unique("owner"))
        other_token, _ = api.register(unique("other"))
        started = create_upload(api, token, clips.small.stat().st_size)["reel"]["id"]  # INIT, not READY
        assert set_avatar(api, token, started, 0)["userErrors"] == [
            {
                "field": ["input", "reelId"],
                "message": "an avatar can be taken from a READY reel only",
                "code": "INVALID",
            }
        ]
        assert set_avatar(api, other_token, started, 0)["userErrors"][0]["code"] == "NOT_FOUND"  # not visible
        assert set_avatar(api, token, "UmVlbDo5OTk5OTk5OTk5OTk5OTk5OTk5", 0)["userErrors"][0]["code"] == "NOT_FOUND"
        anonymous = set_avatar(api, None, started, 0)
        assert anonymous == {
            "user": None,
            "userErrors": [{"field": [], "message": anonymous["userErrors"][0]["message"], "code": "UNAUTHENTICATED"}],
        }
