from pathlib import Path

import numpy as np
import pytest

from reels.ranking import EventTable, Item, LogFormatError, WatchEvent, read_events, read_items, write_events


def write(tmp_path: Path, text: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_a_watch_log_ignoring_other_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "user_id,item_id,timestamp,watch_ratio,duration_ms,liked,comment\n"
        "u1,r1,1700000000,0.5,12000,1,nice\n"
        "u2,r1,2026-01-01T10:00:00Z,1.25,,false,\n",
    )
    events = list(read_events(path))
    assert events == [
        WatchEvent("u1", "r1", 1700000000.0, watch_ratio=0.5, duration_ms=12000, liked=True),
        WatchEvent("u2", "r1", 1767261600.0, watch_ratio=1.25),
    ]


def test_reads_a_rating_log_and_items(tmp_path: Path) -> None:
    log = write(tmp_path, "item_id,user_id,rating,timestamp\n7,1,4,881250949\n")
    items = write(tmp_path, "item_id,category,genre\n7,Comedy,x\n8,,y\n", "items.csv")
    assert list(read_events(log)) == [WatchEvent("1", "7", 881250949.0, rating=4.0)]
    assert list(read_items(items)) == [Item("7", category="Comedy"), Item("8")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user_id,timestamp,rating\n", "missing column(s) item_id"),
        ("user_id,item_id,timestamp\n", "needs a watch_ratio or rating column"),
        ("user_id,item_id,timestamp,rating\nu,i,1,\n", "log.csv:2: needs a watch_ratio or a rating"),
        (
            "user_id,item_id,timestamp,rating\nu,i,1,4\nu,i,2,four\n",
            "log.csv:3: column 'rating': 'four' is not a number",
        ),
        ("user_id,item_id,timestamp,watch_ratio\nu,i,yesterday,1\n", "log.csv:2: column 'timestamp'"),
        ("user_id,item_id,timestamp,watch_ratio\nu,i,1,-0.5\n", "column 'watch_ratio': '-0.5' is not a finite number"),
        ("user_id,item_id,timestamp,watch_ratio\n,i,1,0.5\n", "log.csv:2: column 'user_id' is empty"),
        ("user_id,item_id,timestamp,watch_ratio,liked\nu,i,1,0.5,maybe\n", "column 'liked': 'maybe' is not a boolean"),
        ("user_id,item_id,timestamp,watch_ratio\nu,i,1,0.5,extra\n", "log.csv:2: more fields than the header has"),
    ],
)
def test_bad_input_names_the_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LogFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(read_events(write(tmp_path, text)))


def test_table_orders_by_time_and_fills_durations_from_items(tmp_path: Path) -> None:
    events = [
        WatchEvent("a", "r2", 20.0, watch_ratio=1.0),
        WatchEvent("b", "r1", 10.0, watch_ratio=0.2, duration_ms=9000),
        WatchEvent("a", "r3", 15.0, watch_ratio=0.1),
    ]
    path = tmp_path / "log.csv"
    write_events(path, events)
    table = EventTable.build(read_events(path), [Item("r2", category="dance", creator_id="c", duration_ms=30000)])
    assert [table.catalogue.items.ids[i] for i in table.item] == ["r1", "r3", "r2"]
    assert table.timestamp.tolist() == [10.0, 15.0, 20.0]
    assert np.isnan(table.duration_ms[1])
    assert table.duration_ms[[0, 2]].tolist() == [9000.0, 30000.0]
    assert table.catalogue.category.tolist() == [0, -1, -1]  # r2 (from the items file), r1, r3
