"""Event logs as Parquet partitions: what `reels export-events` writes and `reels train --events` reads.

A folder holds `items.parquet` (item_id, category, creator_id, duration_ms), `follows.parquet`
(user_id, creator_id) and `events/part-NNNNN.parquet`, one file per exported chunk, with the
columns of a CSV log (`events.EVENT_COLUMNS`). Partitions are read one at a time, so the reader
holds one partition's rows as Python objects at most, and a cluster can read them apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from reels.ranking.events import Item, LogFormatError, WatchEvent
from reels.ranking.table import EventTable, TableBuilder

EVENTS_FOLDER = "events"
ITEMS_FILE = "items.parquet"
FOLLOWS_FILE = "follows.parquet"

EVENT_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("timestamp", pa.float64()),
        ("watch_ratio", pa.float32()),
        ("rating", pa.float32()),
        ("duration_ms", pa.float32()),
        ("liked", pa.bool_()),
        ("not_interested", pa.bool_()),
        ("reported", pa.bool_()),
    ]
)
ITEM_SCHEMA = pa.schema(
    [("item_id", pa.string()), ("category", pa.string()), ("creator_id", pa.string()), ("duration_ms", pa.int64())]
)
FOLLOW_SCHEMA = pa.schema([("user_id", pa.string()), ("creator_id", pa.string())])


def write_partition(folder: Path, number: int, events: Sequence[WatchEvent]) -> Path:
    path = folder / EVENTS_FOLDER / f"part-{number:05d}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {name: [getattr(event, name) for event in events] for name in EVENT_SCHEMA.names}
    pq.write_table(pa.table(columns, schema=EVENT_SCHEMA), path)
    return path


def write_items(folder: Path, items: Sequence[Item]) -> None:
    columns = {name: [getattr(item, name) for item in items] for name in ITEM_SCHEMA.names}
    pq.write_table(pa.table(columns, schema=ITEM_SCHEMA), folder / ITEMS_FILE)


def write_follows(folder: Path, follows: Sequence[tuple[str, str]]) -> None:
    users, creators = [user for user, _ in follows], [creator for _, creator in follows]
    pq.write_table(pa.table({"user_id": users, "creator_id": creators}, schema=FOLLOW_SCHEMA), folder / FOLLOWS_FILE)


def partitions(folder: Path) -> list[Path]:
    return sorted((folder / EVENTS_FOLDER).glob("part-*.parquet"))


def _read(path: Path, schema: pa.Schema) -> pa.Table:
    try:
        return pq.read_table(path, columns=schema.names).cast(schema)
    except (OSError, pa.ArrowException) as error:
        raise LogFormatError(f"{path}: {error}") from None


def read_items(folder: Path) -> Iterator[Item]:
    for row in _read(folder / ITEMS_FILE, ITEM_SCHEMA).to_pylist():
        yield Item(**row)


def read_export(folder: Path) -> EventTable:
    """The time-ordered table of an export, read partition by partition."""
    builder = TableBuilder(read_items(folder))
    for path in partitions(folder):
        part = _read(path, EVENT_SCHEMA)
        numbers = {name: part.column(name).to_numpy(zero_copy_only=False) for name in EVENT_SCHEMA.names[2:]}
        for name in ("watch_ratio", "rating", "duration_ms"):
            numbers[name] = np.asarray(part.column(name).fill_null(np.nan).to_numpy(zero_copy_only=False), np.float32)
        builder.add_columns(part.column("user_id").to_pylist(), part.column("item_id").to_pylist(), numbers)
    follows = _read(folder / FOLLOWS_FILE, FOLLOW_SCHEMA)
    return builder.finish(
        zip(follows.column("user_id").to_pylist(), follows.column("creator_id").to_pylist(), strict=True)
    )
