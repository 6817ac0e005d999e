"""Sounds: the title of a reel's own sound, given at upload or changed later by its creator."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain.accounts import UNSHOWABLE
from reels.domain.errors import DomainError, ErrorCode, forbidden, invalid, not_found
from reels.domain.models import Audio, User

TITLE_MAX = 100


def default_title(username: str) -> str:
    """What a sound is called until its creator names it."""
    return f"Original audio · @{username}"


def checked_title(title: str, field: str) -> str:
    """The title as stored: trimmed, not empty, at most TITLE_MAX characters, one line."""
    text = title.strip()
    if not text:
        raise invalid("a sound's title cannot be empty", field)
    if len(text) > TITLE_MAX:
        raise DomainError(ErrorCode.TOO_LONG, f"a sound's title is limited to {TITLE_MAX} characters", field)
    if UNSHOWABLE.search(text):
        raise invalid("a sound's title may not hold control characters, line breaks or direction overrides", field)
    return text


async def update_audio(
    sessions: async_sessionmaker[AsyncSession], user: User, audio_id: int | None, title: str
) -> Audio:
    """Rename a sound: its creator only."""
    text = checked_title(title, "title")
    async with sessions.begin() as session:
        sound = await session.get(Audio, audio_id) if audio_id is not None else None
        if sound is None:
            raise not_found("sound", "audio_id")
        if sound.creator_id != user.id:
            raise forbidden("only the sound's creator may rename it", "audio_id")
        sound.title = text
    return sound
