"""Scalars the API shows in one fixed form."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry


def _serialize_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`. PostgreSQL's driver hands back times in UTC, SQLite's naive
    ones; every stored time is UTC."""
    if value.tzinfo is UTC:  # the offset is "+00:00": cut it (a page shows ~40 times)
        return value.isoformat()[:-6] + "Z"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"  # a naive isoformat has no offset


def _parse_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a DateTime needs a time zone, e.g. 2026-01-31T12:00:00Z")
    return parsed.astimezone(UTC)


DATETIME_UTC = strawberry.scalar(
    name="DateTime",
    description="An instant as ISO 8601 in UTC, ending in `Z`, e.g. 2026-01-31T12:00:00.123456Z.",
    serialize=_serialize_utc,
    parse_value=_parse_utc,
)
