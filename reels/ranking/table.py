"""A columnar, time-ordered view of an event log: integer ids, numpy columns, the item catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice

import numpy as np

from reels.ranking.events import Item, WatchEvent

UNKNOWN = -1  # index of a missing category or creator


class Vocabulary:
    """Maps outside ids (strings) to dense indices 0..n-1 in the order first seen."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        for outside_id in ids:
            self.add(outside_id)

    def add(self, outside_id: str) -> int:
        position = self.index.get(outside_id)
        if position is None:
            position = self.index[outside_id] = len(self.ids)
            self.ids.append(outside_id)
        return position

    def get(self, outside_id: str) -> int | None:
        return self.index.get(outside_id)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Catalogue:
    """Every known item with its attributes, indexed like the table's item column."""

    items: Vocabulary = field(default_factory=Vocabulary)
    categories: Vocabulary = field(default_factory=Vocabulary)
    creators: Vocabulary = field(default_factory=Vocabulary)
    category: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    creator: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    duration_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class EventTable:
    """Events sorted by time (stable), one numpy column per field; missing numbers are NaN."""

    users: Vocabulary
    catalogue: Catalogue
    user: np.ndarray  # int32
    item: np.ndarray  # int32
    timestamp: np.ndarray  # float64 seconds
    watch_ratio: np.ndarray  # float32, NaN in a rating log
    rating: np.ndarray  # float32, NaN in a watch log
    duration_ms: np.ndarray  # float32, the event's or else the item's duration, NaN when unknown
    liked: np.ndarray  # bool
    not_interested: np.ndarray  # bool
    reported: np.ndarray  # bool
    follows: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int32))  # (user, creator) pairs

    def __len__(self) -> int:
        return len(self.user)

    @property
    def has_watch_ratio(self) -> bool:
        return bool(np.isfinite(self.watch_ratio).any())

    def rows(self, start: int, stop: int) -> EventTable:
        """Events start..stop-1 (a view), sharing the vocabularies and catalogue."""
        return replace(
            self,
            **{name: getattr(self, name)[start:stop] for name in _EVENT_COLUMNS},
        )

    def select(self, mask: np.ndarray) -> EventTable:
        return replace(self, **{name: getattr(self, name)[mask] for name in _EVENT_COLUMNS})

    def chunks(self, size: int) -> Iterator[EventTable]:
        for start in range(0, len(self), size):
            yield self.rows(start, min(start + size, len(self)))

    @classmethod
    def build(
        cls,
        events: Iterable[WatchEvent],
        items: Iterable[Item] = (),
        follows: Iterable[tuple[str, str]] = (),
        chunk_events: int = 50_000,
    ) -> EventTable:
        """Read events (in any order) and items into a time-ordered table."""
        builder = TableBuilder(items)
        stream = iter(events)
        while chunk := list(islice(stream, chunk_events)):
            builder.add(chunk)
        return builder.finish(follows)


class TableBuilder:
    """Builds an `EventTable` from events arriving in chunks (from a file or a database cursor):
    each chunk becomes numpy columns at once, so memory holds the columns, not event objects."""

    def __init__(self, items: Iterable[Item] = ()) -> None:
        self.catalogue = _catalogue(items)
        self.users = Vocabulary()
        self._chunks: list[dict[str, np.ndarray]] = []

    def add(self, events: Sequence[WatchEvent]) -> None:
        nan = float("nan")
        self.add_columns(
            [e.user_id for e in events],
            [e.item_id for e in events],
            {
                "timestamp": np.fromiter((e.timestamp for e in events), np.float64, len(events)),
                "watch_ratio": np.fromiter(
                    (nan if e.watch_ratio is None else e.watch_ratio for e in events), np.float32, len(events)
                ),
                "rating": np.fromiter((nan if e.rating is None else e.rating for e in events), np.float32, len(events)),
                "duration_ms": np.fromiter(
                    (nan if e.duration_ms is None else e.duration_ms for e in events), np.float32, len(events)
                ),
                "liked": np.fromiter((e.liked for e in events), bool, len(events)),
                "not_interested": np.fromiter((e.not_interested for e in events), bool, len(events)),
                "reported": np.fromiter((e.reported for e in events), bool, len(events)),
            },
        )

    def add_columns(self, user_ids: Sequence[str], item_ids: Sequence[str], values: dict[str, np.ndarray]) -> None:
        """A chunk given as columns: outside ids, and every other event column (missing numbers NaN)."""
        users, items = self.users, self.catalogue.items
        chunk = {name: np.asarray(values[name], _EMPTY_DTYPES[name]) for name in _EVENT_COLUMNS[2:]}
        chunk["user"] = np.fromiter((users.add(u) for u in user_ids), np.int32, len(user_ids))
        chunk["item"] = np.fromiter((items.add(i) for i in item_ids), np.int32, len(item_ids))
        self._chunks.append(chunk)

    def finish(self, follows: Iterable[tuple[str, str]] = ()) -> EventTable:
        """The time-ordered table; `follows` are (user id, creator id) pairs."""
        catalogue, users = self.catalogue, self.users
        _grow_catalogue(catalogue)
        columns = {
            name: np.concatenate([chunk[name] for chunk in self._chunks])
            if self._chunks
            else np.zeros(0, _EMPTY_DTYPES[name])
            for name in _EVENT_COLUMNS
        }
        self._chunks = []
        item, duration = columns["item"], columns["duration_ms"]
        known = np.isfinite(duration)
        # An item's duration is the items file's, else the last one its events state.
        missing = ~np.isfinite(catalogue.duration_ms)
        from_events = np.full(len(catalogue), np.nan, np.float32)
        from_events[item[known]] = duration[known]
        catalogue.duration_ms[missing] = from_events[missing]
        duration[~known] = catalogue.duration_ms[item[~known]]
        order = np.argsort(columns["timestamp"], kind="stable")
        follow_pairs = [
            (users.add(user_id), catalogue.creators.get(creator_id))
            for user_id, creator_id in follows
            if catalogue.creators.get(creator_id) is not None
        ]
        return EventTable(
            users=users,
            catalogue=catalogue,
            **{name: values[order] for name, values in columns.items()},
            follows=np.asarray(follow_pairs, np.int32).reshape(-1, 2),
        )


_EVENT_COLUMNS = (
    "user",
    "item",
    "timestamp",
    "watch_ratio",
    "rating",
    "duration_ms",
    "liked",
    "not_interested",
    "reported",
)
_EMPTY_DTYPES = {
    "user": np.int32,
    "item": np.int32,
    "timestamp": np.float64,
    "watch_ratio": np.float32,
    "rating": np.float32,
    "duration_ms": np.float32,
    "liked": bool,
    "not_interested": bool,
    "reported": bool,
}


def _catalogue(items: Iterable[Item]) -> Catalogue:
    catalogue = Catalogue()
    category: list[int] = []
    creator: list[int] = []
    duration: list[float] = []
    for item in items:
        if catalogue.items.get(item.item_id) is not None:
            continue
        catalogue.items.add(item.item_id)
        category.append(UNKNOWN if item.category is None else catalogue.categories.add(item.category))
        creator.append(UNKNOWN if item.creator_id is None else catalogue.creators.add(item.creator_id))
        duration.append(float("nan") if item.duration_ms is None else item.duration_ms)
    catalogue.category = np.asarray(category, np.int32)
    catalogue.creator = np.asarray(creator, np.int32)
    catalogue.duration_ms = np.asarray(duration, np.float32)
    return catalogue


def _grow_catalogue(catalogue: Catalogue) -> None:
    """Items first seen in the log get unknown attributes."""
    extra = len(catalogue) - len(catalogue.category)
    if extra:
        catalogue.category = np.concatenate([catalogue.category, np.full(extra, UNKNOWN, np.int32)])
        catalogue.creator = np.concatenate([catalogue.creator, np.full(extra, UNKNOWN, np.int32)])
        catalogue.duration_ms = np.concatenate([catalogue.duration_ms, np.full(extra, np.nan, np.float32)])
