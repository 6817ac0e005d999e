"""A pluggable classifier: any Python callable, named "package.module:callable", that looks at
an upload and may hold or block it.

The callable is given three arguments and returns a `Verdict` (or None for "allow"):

    def classify(frames: numpy.ndarray, audio_path: pathlib.Path | None, metadata: Mapping[str, object]) -> Verdict | None

`frames` are the frames the caller sampled for it (uint8, (n, height, width) grayscale or
(n, height, width, 3) RGB, in playback order), `audio_path` the upload's sound when it has one,
`metadata` facts about the upload (caption, creator, duration, ...). A hook that raises or
returns something else is reported in the verdict's `errors` and otherwise ignored: a broken
classifier never stops uploads, nor decides them.

Plugging in an NSFW model, for example an ONNX image classifier with its labels (such as the
open NSFW models that score "porn", "hentai", "sexy", "neutral", "drawings" on 224×224 RGB):

    # mysite/nsfw.py (installed in the worker's environment)
    import numpy as np
    import onnxruntime
    from reels.moderation import Verdict

    _session = onnxruntime.InferenceSession("/models/nsfw.onnx")  # loaded once per process

    def classify(frames, audio_path, metadata):
        batch = frames.astype(np.float32) / 255.0  # (n, 224, 224, 3), as the model was trained
        scores = _session.run(None, {_session.get_inputs()[0].name: batch})[0]
        explicit = scores[:, [1, 3]].sum(axis=1).max()  # the labels that mean explicit content
        if explicit > 0.9:
            return Verdict.block("nsfw", f"explicit content (score {explicit:.2f})")
        if explicit > 0.6:
            return Verdict.hold("nsfw", f"possibly explicit content (score {explicit:.2f})")
        return None

and point the worker at it with `REELS_MODERATION_HOOK=mysite.nsfw:classify`. The hook runs in
the worker process on its CPU, once per upload: keep the model small or its inference bounded.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reels.moderation.verdict import Verdict

Classifier = Callable[[np.ndarray, Path | None, Mapping[str, object]], Verdict | None]


class HookError(Exception):
    """The hook named in the settings cannot be loaded: a configuration mistake to fix."""


@dataclass(frozen=True)
class Hook:
    name: str  # the "package.module:callable" it was loaded from
    classify: Classifier

    def __call__(self, frames: np.ndarray, audio_path: Path | None, metadata: Mapping[str, object]) -> Verdict:
        try:
            result = self.classify(frames, audio_path, metadata)
        except Exception as exc:  # noqa: BLE001 - whatever the hook does wrong is reported, not raised
            return Verdict.failed(f"classifier hook {self.name} failed: {type(exc).__name__}: {exc}")
        if result is None:
            return Verdict.allow()
        if not isinstance(result, Verdict):
            return Verdict.failed(f"classifier hook {self.name} returned {type(result).__name__}, not a Verdict")
        return result


def load_hook(name: str) -> Hook:
    """Import the callable `name` ("package.module:callable") names; `HookError` if it cannot."""
    if ":" not in name:
        raise HookError(f"classifier hook {name!r} is not of the form 'package.module:callable'")
    try:
        classify = pkgutil.resolve_name(name)
    except Exception as exc:  # an import error or whatever the module raises while it loads
        raise HookError(f"cannot load classifier hook {name!r}: {type(exc).__name__}: {exc}") from exc
    if not callable(classify):
        raise HookError(f"classifier hook {name!r} is a {type(classify).__name__}, not a callable")
    return Hook(name, classify)
