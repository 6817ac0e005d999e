"""The title a creator gives an upload's own sound (createUpload's audioTitle) is the sound's
title once the reel is processed; without one it is "Original audio · @user"."""

from __future__ import annotations

from reels.settings import Settings
from tests.pipeline.helpers import Clips, running, unique, upload, wait_for


def test_an_uploaded_sound_takes_the_title_given(embedded_settings: Settings, clips: Clips) -> None:
    with running(embedded_settings) as api:
        creator = unique("singer")
        token, _ = api.register(creator)
        named = upload(api, token, clips.small, audioTitle="  Rain on tin ")
        plain = upload(api, token, clips.small)
        assert wait_for(api, named, token, {"READY"})["audio"]["title"] == "Rain on tin"
        assert wait_for(api, plain, token, {"READY"})["audio"]["title"] == f"Original audio · @{creator}"
