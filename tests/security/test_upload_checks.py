"""The automated checks before READY, through the API with real FFmpeg clips: captions against the
term lists, copies of blocked reels, and what a moderator's BLOCK and RESTORE change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reels.settings import Settings
from tests.conftest import Api, staff_token
from tests.media.clips import make
from tests.pipeline.helpers import reel, running, unique, upload, wait_for
from tests.pipeline.test_moderation_lifecycle import moderate, moderator_token

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-threads", "1"]
# A panning test pattern with a box swinging across it, and a clip unlike it.
ORIGINAL = (
    "testsrc2=s=540x960:r=30,crop=270:480:'20*t':100,"
    "drawbox=x='40+60*sin(t)':y=200:w=90:h=60:color=0xd03020:t=fill,format=yuv420p"
)
UNLIKE = (
    "mandelbrot=s=135x240:r=30:start_x=-0.7453:start_y=0.1127:start_scale=0.02:end_scale=0.005:end_pts=150"
    ":maxiter=200,scale=270:480,format=yuv420p"
)
HELD_REELS = "query { heldReels(first: 50) { edges { node { id } } } }"
LOG = "{ moderationLog(first: 20) { edges { node { action check reason actor { username } reel { id } } } } }"
SETTLED = {"READY", "HELD", "BLOCKED", "FAILED"}


@dataclass(frozen=True)
class Clips:
    original: Path
    copy: Path  # re-encoded at CRF 35, rescaled to 180×320 and brightened
    unlike: Path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    root = tmp_path_factory.mktemp("upload-checks")
    clips = Clips(root / "original.mp4", root / "copy.mp4", root / "unlike.mp4")
    make("-f", "lavfi", "-i", ORIGINAL, "-t", "5", *X264, "-crf", "18", str(clips.original))
    make("-f", "lavfi", "-i", UNLIKE, "-t", "5", *X264, "-crf", "18", str(clips.unlike))
    make("-i", str(clips.original), "-vf", "scale=180:320,eq=brightness=0.15", *X264, "-crf", "35", str(clips.copy))
    return clips


@pytest.fixture
def api(embedded_settings: Settings, tmp_path: Path) -> Iterator[Api]:
    blocked, held = tmp_path / "blocked.txt", tmp_path / "held.txt"
    blocked.write_text("# scams\nbuy followers\n")
    held.write_text("kill\n")
    settings = embedded_settings.model_copy(update={"blocked_terms_file": blocked, "held_terms_file": held})
    with running(settings) as api:
        yield api


def test_a_caption_with_a_blocked_term_is_blocked_until_a_moderator_restores_it(api: Api, clips: Clips) -> None:
    creator, _ = api.register(unique("creator"))
    reel_id = upload(api, creator, clips.unlike, caption="BUY   Followers cheap!")
    settled = wait_for(api, reel_id, creator, SETTLED)
    assert settled["status"] == "BLOCKED"
    assert "buy followers" in settled["statusReason"]
    assert reel(api, reel_id, None) is None
    # A moderator who finds the check wrong restores the reel as it was processed.
    restored = moderate(api, moderator_token(api), reel_id, "RESTORE", "a joke about bots")
    assert restored["reel"] == {"id": reel_id, "status": "READY", "statusReason": None}
    assert reel(api, reel_id, None)["playback"]["hlsUrl"]


def test_a_held_caption_waits_for_a_moderator_and_restore_publishes_it(api: Api, clips: Clips) -> None:
    creator, _ = api.register(unique("creator"))
    moderator = moderator_token(api)
    reel_id = upload(api, creator, clips.unlike, caption="I will KÍLL this dance")
    held = wait_for(api, reel_id, creator, SETTLED)
    assert held["status"] == "HELD"
    assert "kill" in held["statusReason"]
    assert reel(api, reel_id, None) is None  # nobody but its creator and moderators sees it
    viewer, _ = api.register(unique("viewer"))
    assert reel(api, reel_id, viewer) is None
    assert reel(api, reel_id, moderator)["status"] == "HELD"
    assert reel_id in [edge["node"]["id"] for edge in api.data(HELD_REELS, {}, moderator)["heldReels"]["edges"]]

    restored = moderate(api, moderator, reel_id, "RESTORE", "a dance move")
    assert restored["userErrors"] == []
    assert restored["reel"] == {"id": reel_id, "status": "READY", "statusReason": None}
    assert reel(api, reel_id, viewer)["status"] == "READY"
    assert api.data(HELD_REELS, {}, moderator)["heldReels"]["edges"] == []

    # The audit log shows the check's decision and the moderator's, newest first.
    log = api.data(LOG, {}, staff_token(api, unique("admin"), "ADMIN"))["moderationLog"]["edges"]
    assert [(e["node"]["action"], e["node"]["check"], e["node"]["reel"]) for e in log] == [
        ("RESTORE_REEL", None, {"id": reel_id}),
        ("HOLD_REEL", "terms", {"id": reel_id}),
    ]
    assert log[1]["node"]["reason"] == held["statusReason"] and log[1]["node"]["actor"] is None


def test_a_copy_of_a_blocked_reel_is_blocked_naming_it_until_the_original_is_restored(api: Api, clips: Clips) -> None:
    creator, _ = api.register(unique("creator"))
    copier, _ = api.register(unique("copier"))
    moderator = moderator_token(api)
    original = upload(api, creator, clips.original, caption="my clip")
    assert wait_for(api, original, creator, SETTLED)["status"] == "READY"
    unlike = upload(api, copier, clips.unlike)
    assert wait_for(api, unlike, copier, SETTLED)["status"] == "READY"

    assert moderate(api, moderator, original, "BLOCK", "stolen")["userErrors"] == []
    copy = upload(api, copier, clips.copy, caption="totally mine")
    blocked = wait_for(api, copy, copier, SETTLED)
    assert blocked["status"] == "BLOCKED"
    assert original in blocked["statusReason"]
    log = api.data(LOG, {}, staff_token(api, unique("admin"), "ADMIN"))["moderationLog"]["edges"]
    assert (log[0]["node"]["action"], log[0]["node"]["check"], log[0]["node"]["reel"]) == (
        "BLOCK_REEL",
        "re-upload",
        {"id": copy},
    )
    assert log[0]["node"]["reason"] == blocked["statusReason"]
    other = upload(api, copier, clips.unlike)  # an unrelated clip still goes through
    assert wait_for(api, other, copier, SETTLED)["status"] == "READY"

    assert moderate(api, moderator, original, "RESTORE", "licensed after all")["userErrors"] == []
    again = upload(api, copier, clips.copy, caption="with permission")
    assert wait_for(api, again, copier, SETTLED)["status"] == "READY"
