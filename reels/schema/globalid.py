"""Opaque global ids (`node(id:)`) and connection cursors.

A global id is base64url("<Type>:<snowflake>") without padding: clients must treat it as
opaque (GitHub's clients that decoded ids broke when the format changed), and the server can
change the encoding without changing the API.
"""

from __future__ import annotations

import base64
import binascii
import re

NODE_TYPES = ("User", "Reel", "Comment", "Hashtag", "Audio", "Report", "Notification", "ModerationLogEntry")
# Every id and keyset value is a signed 64-bit SQL integer: a larger number names no row, and
# handed to the database it would fail the statement instead of finding nothing.
MAX_DB_INT = 2**63 - 1
MIN_DB_INT = -(2**63)
# ASCII digits only: str.isdigit() also takes "²" and other digits int() refuses.
_ID = re.compile(r"[0-9]{1,19}")
_KEY = re.compile(r"-?[0-9]{1,19}")


def _b64encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _b64decode(value: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def to_global_id(type_name: str, db_id: int) -> str:
    return _b64encode(f"{type_name}:{db_id}")


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """(type, id) for a well-formed global id of a known type, else None."""
    if not isinstance(global_id, str) or len(global_id) > 64:
        return None
    decoded = _b64decode(global_id)
    if decoded is None or ":" not in decoded:
        return None
    type_name, _, raw_id = decoded.partition(":")
    if type_name not in NODE_TYPES or not _ID.fullmatch(raw_id) or int(raw_id) > MAX_DB_INT:
        return None
    return type_name, int(raw_id)


def db_id_of(global_id: str, type_name: str) -> int | None:
    """The database id inside `global_id` if it is an id of `type_name`."""
    parsed = from_global_id(global_id)
    return parsed[1] if parsed and parsed[0] == type_name else None


def encode_cursor(*key: int | str) -> str:
    return _b64encode("c:" + ":".join(str(part) for part in key))


def decode_cursor(cursor: str | None, parts: int = 1) -> tuple[int, ...] | None:
    """The keyset a cursor stands for; None for no cursor. ValueError for a malformed one."""
    if cursor is None:
        return None
    decoded = _b64decode(cursor) if len(cursor) <= 120 else None
    if decoded is None or not decoded.startswith("c:"):
        raise ValueError("malformed cursor")
    values = decoded[2:].split(":")
    if len(values) != parts or not all(_KEY.fullmatch(v) for v in values):
        raise ValueError("malformed cursor")
    position = tuple(int(v) for v in values)
    if not all(MIN_DB_INT <= value <= MAX_DB_INT for value in position):
        raise ValueError("malformed cursor")
    return position
