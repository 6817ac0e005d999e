"""The classifier hook: loaded by name, given frames, sound and metadata; its failures reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reels.moderation import Action, HookError, load_hook
from tests.moderation import sample_hooks

DARK = np.full((3, 32, 32), 10, dtype=np.uint8)
BRIGHT = np.full((3, 32, 32), 200, dtype=np.uint8)


def test_a_hook_is_loaded_by_name_and_given_frames_audio_and_metadata() -> None:
    hook = load_hook("tests.moderation.sample_hooks:hold_dark_videos")

    verdict = hook(DARK, Path("/media/audio.m4a"), {"caption": "night walk", "duration_s": 3.0})

    assert verdict.action is Action.HOLD
    assert verdict.findings[0].check == "darkness"
    assert verdict.reason == "too dark to review automatically (mean 10)"
    assert sample_hooks.seen[-1] == (
        (3, 32, 32),
        Path("/media/audio.m4a"),
        {"caption": "night walk", "duration_s": 3.0},
    )
    assert hook(BRIGHT, None, {}).action is Action.ALLOW


def test_a_hook_that_raises_is_reported_not_raised() -> None:
    hook = load_hook("tests.moderation.sample_hooks:broken")

    verdict = hook(BRIGHT, None, {})

    assert verdict.action is Action.ALLOW
    assert verdict.errors == (
        "classifier hook tests.moderation.sample_hooks:broken failed: RuntimeError: model file missing",
    )


def test_a_hook_returning_something_else_is_reported() -> None:
    verdict = load_hook("tests.moderation.sample_hooks:says_yes")(BRIGHT, None, {})

    assert verdict.action is Action.ALLOW
    assert verdict.errors == ("classifier hook tests.moderation.sample_hooks:says_yes returned str, not a Verdict",)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tests.moderation.sample_hooks", "not of the form"),
        ("tests.moderation.no_such_module:classify", "ModuleNotFoundError"),
        ("tests.moderation.sample_hooks:no_such_function", "AttributeError"),
        ("tests.moderation.sample_hooks:NOT_CALLABLE", "not a callable"),
    ],
)
def test_a_hook_that_cannot_be_loaded_is_a_configuration_error(name: str, message: str) -> None:
    with pytest.raises(HookError, match=message):
        load_hook(name)
