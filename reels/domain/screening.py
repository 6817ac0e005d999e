"""The automated checks (reels.moderation) as this platform runs them: configured from the
settings, the fingerprints kept in the database, the index of blocked reels kept current.

Every process that checks uploads holds its own `BlockedReels` index. A version number in the
key-value store says when the set of blocked reels last changed: a moderator's BLOCK or RESTORE,
or a check's BLOCK, bumps it after its commit, and before each check a worker reads it and,
when it moved, rebuilds its index from the database. That is simpler than a pub/sub event and
stays correct where an event would not: a worker that was down or disconnected when a block
happened misses the event, but not the version it reads next. The cost is one key read per
upload, and one full reload per change (the blocked reels' fingerprints are a few KB each).
"""

from __future__ import annotations

import asyncio
import base64
import io
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain.errors import invalid
from reels.domain.models import Reel, ReelFingerprint, ReelStatus
from reels.moderation import Fingerprint, HashIndex, Hook, TermList, Verdict, load_hook, reupload_verdict
from reels.moderation.verdict import Action
from reels.ports.kv import KeyValue
from reels.settings import Settings

BLOCKED_VERSION_KEY = "moderation:blocked-version"


def reel_global_id(reel_id: int) -> str:
    """The reel's id as the API shows it (reels.schema.globalid), for reasons a moderator reads."""
    return base64.urlsafe_b64encode(f"Reel:{reel_id}".encode()).decode().rstrip("=")


def fingerprint_bytes(fingerprint: Fingerprint) -> bytes:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        hashes=fingerprint.hashes,
        positions=fingerprint.positions,
        frames=np.int64(fingerprint.frames),
        sample_fps=np.float64(fingerprint.sample_fps),
    )
    return buffer.getvalue()


def fingerprint_from_bytes(data: bytes) -> Fingerprint:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return Fingerprint(
            hashes=arrays["hashes"],
            positions=arrays["positions"],
            frames=int(arrays["frames"]),
            sample_fps=float(arrays["sample_fps"]),
        )


@dataclass
class Checks:
    """The configured term lists and classifier hook, read once per process."""

    settings: Settings

    @cached_property
    def terms(self) -> TermList:
        return TermList.from_files(self.settings.blocked_terms_file, self.settings.held_terms_file)

    @cached_property
    def hook(self) -> Hook | None:
        return load_hook(self.settings.moderation_hook) if self.settings.moderation_hook else None


def refuse_comment(checks: Checks, text: str) -> None:
    """A comment using a blocked or held term is refused (INVALID on `text`): held comments would
    wait for a moderator with no queue to wait in, so both kinds are refused at write time."""
    verdict = checks.terms.check(text, field="comment")
    if verdict.action is not Action.ALLOW:
        raise invalid("this comment uses a term that is not allowed here", "text")


class BlockedReels:
    """This process's index of the fingerprints of BLOCKED reels (see the module docstring)."""

    def __init__(self) -> None:
        self._index = HashIndex()
        self._version: str | None = None
        # The index is not thread-safe: one rebuild or query at a time.
        self._lock = asyncio.Lock()

    async def verdict(
        self, sessions: async_sessionmaker[AsyncSession], cache: KeyValue, fingerprint: Fingerprint
    ) -> Verdict:
        """BLOCK, naming the original reel by its global id, when the fingerprint copies a blocked reel."""
        async with self._lock:
            version = await cache.get(BLOCKED_VERSION_KEY) or "0"
            if version != self._version:
                self._index = await asyncio.to_thread(_build_index, await _blocked_fingerprints(sessions))
                self._version = version
            return await asyncio.to_thread(reupload_verdict, self._index, fingerprint)


async def blocked_reels_changed(cache: KeyValue) -> None:
    """Tell every process's `BlockedReels` to reload: call after the change has committed."""
    await cache.incr(BLOCKED_VERSION_KEY)


async def _blocked_fingerprints(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[int, bytes]]:
    async with sessions() as session:
        rows = await session.execute(
            select(ReelFingerprint.reel_id, ReelFingerprint.data)
            .join(Reel, Reel.id == ReelFingerprint.reel_id)
            # A blocked reel its creator deleted afterwards still stops its copies.
            .where(Reel.status == ReelStatus.BLOCKED)
        )
        return [(reel_id, data) for reel_id, data in rows]


def _build_index(rows: list[tuple[int, bytes]]) -> HashIndex:
    index = HashIndex()
    for reel_id, data in rows:
        index.add(reel_global_id(reel_id), fingerprint_from_bytes(data))
    return index
