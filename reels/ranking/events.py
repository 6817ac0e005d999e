"""The watch-event record and streaming readers for interaction logs in CSV.

A log has one row per interaction: `user_id,item_id,timestamp` plus `watch_ratio` or `rating`,
optionally `duration_ms`, `liked`, `not_interested`, `reported`; other columns are ignored.
An items file has `item_id` plus optional `category`, `creator_id`, `duration_ms`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_TRUE = frozenset({"1", "true", "yes", "t", "y"})
_FALSE = frozenset({"", "0", "false", "no", "f", "n"})


class LogFormatError(ValueError):
    """A log or items file that cannot be read; the message names the file, line and column."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One viewer's interaction with one item: a watch (with its watch ratio) or a rating."""

    user_id: str
    item_id: str
    timestamp: float  # seconds since the epoch
    watch_ratio: float | None = None  # watched time / duration; above 1.0 for loops
    rating: float | None = None
    duration_ms: int | None = None
    liked: bool = False
    not_interested: bool = False
    reported: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    category: str | None = None
    creator_id: str | None = None
    duration_ms: int | None = None


EVENT_COLUMNS = (
    "user_id",
    "item_id",
    "timestamp",
    "watch_ratio",
    "rating",
    "duration_ms",
    "liked",
    "not_interested",
    "reported",
)
ITEM_COLUMNS = ("item_id", "category", "creator_id", "duration_ms")


class _Row:
    """Typed access to one CSV row, raising errors that point at the file, line and column."""

    def __init__(self, path: Path, line: int, row: dict[str, str | None]) -> None:
        self.path, self.line, self.row = path, line, row

    def _fail(self, column: str, value: str, expected: str) -> LogFormatError:
        return LogFormatError(f"{self.path}:{self.line}: column {column!r}: {value!r} is not {expected}")

    def text(self, column: str) -> str | None:
        value = (self.row.get(column) or "").strip()
        return value or None

    def required_text(self, column: str) -> str:
        value = self.text(column)
        if value is None:
            raise LogFormatError(f"{self.path}:{self.line}: column {column!r} is empty")
        return value

    def number(self, column: str) -> float | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise self._fail(column, value, "a number") from None
        if not math.isfinite(number) or number < 0:
            raise self._fail(column, value, "a finite number ≥ 0")
        return number

    def whole_number(self, column: str) -> int | None:
        number = self.number(column)
        return None if number is None else round(number)

    def timestamp(self, column: str) -> float:
        value = self.required_text(column)
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self._fail(column, value, "seconds since the epoch or an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise self._fail(column, value, "a time with a UTC offset")
        return moment.timestamp()

    def flag(self, column: str) -> bool:
        value = (self.row.get(column) or "").strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise self._fail(column, value, "a boolean (1/0, true/false)")


def _rows(path: Path, required: tuple[str, ...], one_of: tuple[str, ...] = ()) -> Iterator[_Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [column for column in required if column not in header]
        if missing:
            raise LogFormatError(f"{path}: missing column(s) {', '.join(missing)} (header: {','.join(header)})")
        if one_of and not any(column in header for column in one_of):
            raise LogFormatError(f"{path}: needs a {' or '.join(one_of)} column (header: {','.join(header)})")
        for row in reader:
            if None in row:
                raise LogFormatError(f"{path}:{reader.line_num}: more fields than the header has")
            yield _Row(path, reader.line_num, row)


def read_events(path: str | Path) -> Iterator[WatchEvent]:
    """Stream the events of a CSV log, one row at a time."""
    for row in _rows(Path(path), ("user_id", "item_id", "timestamp"), ("watch_ratio", "rating")):
        watch_ratio, rating = row.number("watch_ratio"), row.number("rating")
        if watch_ratio is None and rating is None:
            raise LogFormatError(f"{row.path}:{row.line}: needs a watch_ratio or a rating")
        yield WatchEvent(
            user_id=row.required_text("user_id"),
            item_id=row.required_text("item_id"),
            timestamp=row.timestamp("timestamp"),
            watch_ratio=watch_ratio,
            rating=rating,
            duration_ms=row.whole_number("duration_ms"),
            liked=row.flag("liked"),
            not_interested=row.flag("not_interested"),
            reported=row.flag("reported"),
        )


def read_items(path: str | Path) -> Iterator[Item]:
    for row in _rows(Path(path), ("item_id",)):
        yield Item(
            item_id=row.required_text("item_id"),
            category=row.text("category"),
            creator_id=row.text("creator_id"),
            duration_ms=row.whole_number("duration_ms"),
        )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def write_events(path: str | Path, events: Iterable[WatchEvent]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EVENT_COLUMNS)
        for event in events:
            writer.writerow([_cell(getattr(event, column)) for column in EVENT_COLUMNS])


def write_items(path: str | Path, items: Iterable[Item]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ITEM_COLUMNS)
        for item in items:
            writer.writerow([_cell(getattr(item, column)) for column in ITEM_COLUMNS])
