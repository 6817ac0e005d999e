"""Done when: random bytes, a truncated file, an audio-only file and a 95 s clip end FAILED with
readable reasons while other uploads carry on, and no one but the creator sees them."""

from __future__ import annotations

from sqlalchemy import select

from reels.domain.models import Notification
from reels.schema.globalid import db_id_of
from tests.pipeline.helpers import NODE, USER_REELS, Clips, Stack, call, reel, running, unique, upload, wait_for


async def notification_kinds(platform, reel_id: str) -> list[str]:
    async with platform.sessions() as session:
        rows = await session.scalars(select(Notification.kind).where(Notification.reel_id == db_id_of(reel_id, "Reel")))
        return [kind.value for kind in rows]


def test_unusable_uploads_fail_with_readable_reasons_while_a_good_one_comes_out_ready(
    stack: Stack, clips: Clips
) -> None:
    expected = {
        clips.random_bytes: "the file is not a readable video",
        clips.truncated: "the file is not a readable video",
        clips.audio_only: "the file has no video stream",
        clips.too_long: "video is 95 s long; the limit is 90 s",
    }
    with running(stack.settings) as api:
        creator = unique("unlucky")
        token, _ = api.register(creator)
        bad = {upload(api, token, path): reason for path, reason in expected.items()}
        good = upload(api, token, clips.small)

        assert wait_for(api, good, token, {"READY"})["playback"] is not None
        for reel_id, reason in bad.items():
            failed = wait_for(api, reel_id, token, {"FAILED"})
            assert (failed["statusReason"], failed["playback"]) == (reason, None)
            assert call(api, notification_kinds, reel_id) == ["REEL_FAILED"]

        # Only the creator sees a reel that is not READY.
        viewer_token, _ = api.register(unique("viewer"))
        for who in (None, viewer_token):
            for reel_id in bad:
                assert reel(api, reel_id, who) is None
                assert api.data(NODE, {"id": reel_id}, who)["node"] is None
            edges = api.data(USER_REELS, {"name": creator}, who)["user"]["reels"]["edges"]
            assert [edge["node"]["id"] for edge in edges] == [good]
        mine = api.data(USER_REELS, {"name": creator}, token)["user"]["reels"]["edges"]
        assert {edge["node"]["id"] for edge in mine} == {good, *bad}
