"""The two ways media processing fails, told apart because a worker treats them differently."""

from __future__ import annotations


class MediaRejected(Exception):
    """The upload itself is unusable (not a video, too long, too large): retrying cannot help.

    `reason` is a sentence to show the creator as is.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TranscodeError(Exception):
    """FFmpeg or the probe failed or ran out of time: worth retrying later."""
