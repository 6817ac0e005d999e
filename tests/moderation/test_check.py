"""check(): every configured check on one upload, the most severe verdict winning."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reels.moderation import Action, Fingerprint, HashIndex, TermList, Verdict, check, load_hook

TERMS = TermList(blocked=["kill"], held=["cheap"])
DARK = np.full((3, 32, 32), 10, dtype=np.uint8)
BRIGHT = np.full((3, 32, 32), 200, dtype=np.uint8)


def blocked_index(fingerprints: dict[str, Fingerprint]) -> HashIndex:
    index = HashIndex()
    index.add("reel-17", fingerprints["original"])
    return index


def test_a_clean_upload_is_allowed(fingerprints: dict[str, Fingerprint]) -> None:
    verdict = check(
        caption="sunset at the beach",
        fingerprint=fingerprints["life"],
        frames=BRIGHT,
        terms=TERMS,
        blocked=blocked_index(fingerprints),
        hook=load_hook("tests.moderation.sample_hooks:hold_dark_videos"),
    )

    assert verdict == Verdict.allow()
    assert verdict.reason == ""


def test_a_reupload_is_blocked_naming_the_original(fingerprints: dict[str, Fingerprint]) -> None:
    verdict = check(
        caption="fresh clip", fingerprint=fingerprints["scaled"], terms=TERMS, blocked=blocked_index(fingerprints)
    )

    assert verdict.action is Action.BLOCK
    (finding,) = verdict.findings
    assert (finding.check, finding.original_reel_id) == ("re-upload", "reel-17")
    assert finding.score is not None and finding.score >= 0.9
    assert verdict.reason.startswith("a copy of blocked reel reel-17: ")


def test_the_most_severe_finding_decides_and_all_are_kept(fingerprints: dict[str, Fingerprint]) -> None:
    verdict = check(
        caption="so cheap",
        fingerprint=fingerprints["reencoded"],
        frames=DARK,
        audio_path=Path("audio.m4a"),
        metadata={"caption": "so cheap"},
        terms=TERMS,
        blocked=blocked_index(fingerprints),
        hook=load_hook("tests.moderation.sample_hooks:hold_dark_videos"),
    )

    assert verdict.action is Action.BLOCK
    assert [(f.check, f.action) for f in verdict.findings] == [
        ("re-upload", Action.BLOCK),
        ("terms", Action.HOLD),
        ("darkness", Action.HOLD),
    ]


def test_a_failing_hook_leaves_the_other_checks_to_decide() -> None:
    verdict = check(
        caption="I will kill you", frames=BRIGHT, terms=TERMS, hook=load_hook("tests.moderation.sample_hooks:broken")
    )

    assert verdict.action is Action.BLOCK
    assert verdict.findings[0].term == "kill"
    assert verdict.errors == (
        "classifier hook tests.moderation.sample_hooks:broken failed: RuntimeError: model file missing",
    )


def test_checks_without_their_input_do_not_run(fingerprints: dict[str, Fingerprint]) -> None:
    hook = load_hook("tests.moderation.sample_hooks:broken")

    assert check(terms=TERMS, blocked=blocked_index(fingerprints), hook=hook) == Verdict.allow()
