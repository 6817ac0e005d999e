"""Where a reel's objects live in the object store, built and parsed in this one place.

    sources/{reel id}/source          the uploaded file (multipart upload target)
    reels/{reel id}/...               everything made from it: HLS ladder, thumbnail, preview
    audio/{reel id}/original.m4a      the reel's own sound, named after the reel so a redo overwrites it
    avatars/{user id}/{version}.jpg   a profile's avatar; each new one has a new key, so no cache shows an old one

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


def avatar_key(user_id: int, version: int) -> str:
    return f"avatars/{user_id}/{version}.jpg"


RANKER_CURRENT_KEY = "models/ranker/current"
"""Holds the version (text) of the ranker every API process should serve."""


RANKER_ARTIFACT = "ranker.zip"  # LearnedRanker.to_bytes
EMBEDDINGS_ARTIFACT = "embeddings.npz"  # Embeddings.to_bytes
INDEX_ARTIFACT = "items.index"  # ItemIndex.to_bytes, built from that version's embeddings


def ranker_artifact_key(version: str, name: str) -> str:
    """`name` is one of RANKER_ARTIFACT, EMBEDDINGS_ARTIFACT, INDEX_ARTIFACT."""
    return f"models/ranker/{version}/{name}"
