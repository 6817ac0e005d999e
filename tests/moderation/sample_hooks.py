"""Classifier hooks for the tests, loaded by name as the worker would load a real one."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from reels.moderation import Verdict

seen: list[tuple[tuple[int, ...], Path | None, dict[str, object]]] = []


def hold_dark_videos(frames: np.ndarray, audio_path: Path | None, metadata: Mapping[str, object]) -> Verdict | None:
    seen.append((frames.shape, audio_path, dict(metadata)))
    if frames.mean() < 40:
        return Verdict.hold("darkness", f"too dark to review automatically (mean {frames.mean():.0f})")
    return None


def broken(frames: np.ndarray, audio_path: Path | None, metadata: Mapping[str, object]) -> Verdict | None:
    raise RuntimeError("model file missing")


def says_yes(frames: np.ndarray, audio_path: Path | None, metadata: Mapping[str, object]) -> object:
    return "BLOCK"


NOT_CALLABLE = 42
