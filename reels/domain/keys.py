"""Where a reel's objects live in the object store, built and parsed in this one place.

    sources/{reel id}/source          the uploaded file (multipart upload target)
    reels/{reel id}/...               everything made from it: HLS ladder, thumbnail, preview
    audio/{reel id}/original.m4a      the reel's own sound, named after the reel so a redo overwrites it

A reel's media are replicated and deleted by prefix; its sound stays when the reel goes,
because other reels may use it.
"""

from __future__ import annotations

import re

_MEDIA_KEY = re.compile(r"reels/(\d+)/")


def source_prefix(reel_id: int) -> str:
    return f"sources/{reel_id}/"


def source_key(reel_id: int) -> str:
    return source_prefix(reel_id) + "source"


def media_prefix(reel_id: int) -> str:
    return f"reels/{reel_id}/"


def original_audio_key(reel_id: int) -> str:
    return f"audio/{reel_id}/original.m4a"


def reel_of_media_key(key: str) -> int | None:
    """The reel whose media `key` is (under `media_prefix`); None for any other key."""
    match = _MEDIA_KEY.match(key)
    return int(match[1]) if match else None


RANKER_CURRENT_KEY = "models/ranker/current"
"""Holds the version (text) of the ranker every API process should serve."""


def ranker_artifact_key(version: str, name: str) -> str:
    """`name` is `ranker.zip` (LearnedRanker.to_bytes) or `embeddings.npz` (Embeddings.to_bytes)."""
    return f"models/ranker/{version}/{name}"
