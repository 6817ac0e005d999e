"""Automated checks of uploads and comments, usable without the API.

A worker samples an upload's frames (at `SAMPLE_FPS`, 32×32 grayscale: a `reels.media.frames`
sampling, in the worker a branch of the ladder's decode), takes its `fingerprint`, and asks `check(...)` for a `Verdict`: the caption against
a `TermList`, the fingerprint against the `HashIndex` of blocked reels, and the optional
classifier `Hook`. Blocking a reel adds its fingerprint to the index; restoring it removes it.

This package imports numpy and the standard library only.
"""

from reels.moderation.checks import check, reupload_verdict
from reels.moderation.hooks import Hook, HookError, load_hook
from reels.moderation.matcher import HashIndex, Match
from reels.moderation.phash import FRAME_SIZE, SAMPLE_FPS, Fingerprint, fingerprint
from reels.moderation.terms import TermList
from reels.moderation.verdict import Action, Finding, Verdict

__all__ = [
    "FRAME_SIZE",
    "SAMPLE_FPS",
    "Action",
    "Finding",
    "Fingerprint",
    "HashIndex",
    "Hook",
    "HookError",
    "Match",
    "TermList",
    "Verdict",
    "check",
    "fingerprint",
    "load_hook",
    "reupload_verdict",
]
