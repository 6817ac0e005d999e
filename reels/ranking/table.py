"""A columnar, time-ordered view of an event log: integer ids, numpy columns, the item catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

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
    ) -> EventTable:
        """Read events (in any order) and items into a time-ordered table."""
        catalogue = _catalogue(items)
        users = Vocabulary()
        columns: dict[str, list[float]] = {name: [] for name in _EVENT_COLUMNS if name != "duration_ms"}
        event_duration: list[float] = []
        nan = float("nan")
        for event in events:
            columns["user"].append(users.add(event.user_id))
            columns["item"].append(catalogue.items.add(event.item_id))
            columns["timestamp"].append(event.timestamp)
            columns["watch_ratio"].append(nan if event.watch_ratio is None else event.watch_ratio)
            columns["rating"].append(nan if event.rating is None else event.rating)
            event_duration.append(nan if event.duration_ms is None else event.duration_ms)
            columns["liked"].append(event.liked)
            columns["not_interested"].append(event.not_interested)
            columns["reported"].append(event.reported)
        _grow_catalogue(catalogue)
        item = np.asarray(columns["item"], np.int32)
        duration = np.asarray(event_duration, np.float32)
        known = np.isfinite(duration)
        # An item's duration is the items file's, else the last one its events state.
        missing = ~np.isfinite(catalogue.duration_ms)
        from_events = np.full(len(catalogue), np.nan, np.float32)
        from_events[item[known]] = duration[known]
        catalogue.duration_ms[missing] = from_events[missing]
        duration[~known] = catalogue.duration_ms[item[~known]]
        order = np.argsort(np.asarray(columns["timestamp"], np.float64), kind="stable")
        follow_pairs = [
            (users.add(user_id), catalogue.creators.get(creator_id))
            for user_id, creator_id in follows
            if catalogue.creators.get(creator_id) is not None
        ]
        return cls(
            users=users,
            catalogue=catalogue,
            user=np.asarray(columns["user"], np.int32)[order],
            item=item[order],
            timestamp=np.asarray(columns["timestamp"], np.float64)[order],
            watch_ratio=np.asarray(columns["watch_ratio"], np.float32)[order],
            rating=np.asarray(columns["rating"], np.float32)[order],
            duration_ms=duration[order],
            liked=np.asarray(columns["liked"], bool)[order],
            not_interested=np.asarray(columns["not_interested"], bool)[order],
            reported=np.asarray(columns["reported"], bool)[order],
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
