"""The automated checks of an upload, run together: term list, re-upload matcher, classifier hook."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from reels.moderation.hooks import Hook
from reels.moderation.matcher import HashIndex
from reels.moderation.phash import Fingerprint
from reels.moderation.terms import TermList
from reels.moderation.verdict import Action, Finding, Verdict

REUPLOAD_CHECK = "re-upload"


def check(
    *,
    caption: str = "",
    fingerprint: Fingerprint | None = None,
    frames: np.ndarray | None = None,
    audio_path: Path | None = None,
    metadata: Mapping[str, object] | None = None,
    terms: TermList | None = None,
    blocked: HashIndex | None = None,
    hook: Hook | None = None,
) -> Verdict:
    """Every configured check's verdict on an upload, combined: the most severe action wins.

    `caption` goes to `terms`; `fingerprint` (of the upload's video) to `blocked`, the index of
    blocked reels; `frames`, `audio_path` and `metadata` to `hook`. A check left as None, or
    without its input, does not run.
    """
    verdicts = []
    if terms is not None and caption:
        verdicts.append(terms.check(caption, field="caption"))
    if blocked is not None and fingerprint is not None:
        verdicts.append(reupload_verdict(blocked, fingerprint))
    if hook is not None and frames is not None:
        verdicts.append(hook(frames, audio_path, dict(metadata or {})))
    return Verdict.combine(*verdicts)


def reupload_verdict(blocked: HashIndex, fingerprint: Fingerprint) -> Verdict:
    """BLOCK, naming the original, when the video copies a blocked reel."""
    match = blocked.best_match(fingerprint)
    if match is None:
        return Verdict.allow()
    reason = f"a copy of blocked reel {match.reel_id}: {match.windows} s of it match ({match.score:.0%} of the overlap)"
    return Verdict.of(Finding(REUPLOAD_CHECK, Action.BLOCK, reason, original_reel_id=match.reel_id, score=match.score))
