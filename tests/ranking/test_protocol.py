import numpy as np
import pytest

from reels.ranking import EvalConfig, EventTable, Item, WatchEvent, time_split
from reels.ranking.evaluation import rank, scored_users
from reels.ranking.training import RankerConfig, window_bounds


def table() -> EventTable:
    events = [
        WatchEvent("a", "r1", 1, watch_ratio=1.0),
        WatchEvent("b", "r1", 2, watch_ratio=0.4),
        WatchEvent("a", "r2", 3, watch_ratio=0.1),
        WatchEvent("d", "r4", 4, watch_ratio=1.0),
        WatchEvent("b", "r4", 5, watch_ratio=1.0),
        WatchEvent("d", "r1", 6, watch_ratio=0.9),
        WatchEvent("a", "r4", 7, watch_ratio=0.5),
        WatchEvent("b", "r2", 8, watch_ratio=1.0),
        WatchEvent("d", "r2", 9, watch_ratio=0.2),
        WatchEvent("d", "r5", 10, watch_ratio=0.7),
        WatchEvent("b", "r5", 11, watch_ratio=0.3),
        WatchEvent("b", "r1", 12, watch_ratio=1.0),
        # Test part: the last 25% of the events by count.
        WatchEvent("a", "r3", 13, watch_ratio=1.2),  # relevant, new to a
        WatchEvent("a", "r1", 14, watch_ratio=2.5),  # a saw r1 in training: not a candidate
        WatchEvent("b", "r3", 15, watch_ratio=0.3),  # not relevant: b is not scored
        WatchEvent("c", "r1", 16, watch_ratio=1.0),  # c has no training interaction
    ]
    return EventTable.build(reversed(events), [Item(f"r{n}") for n in range(1, 6)])


def test_one_global_cut_by_count() -> None:
    split = time_split(table(), 0.25)
    assert len(split.train) == 12 and len(split.test) == 4
    assert split.cut_time == 12.0
    assert split.train.timestamp.max() <= split.test.timestamp.min()


def test_scored_users_need_training_history_and_a_relevant_new_item() -> None:
    whole = table()
    split = time_split(whole, 0.25)
    scored = scored_users(split, EvalConfig())
    assert [whole.users.ids[u] for u in scored.users] == ["a"]
    item = whole.catalogue.items.index
    assert scored.relevant == [{item["r3"]: pytest.approx(1.2)}]


def test_candidates_are_every_item_not_interacted_with_in_training() -> None:
    whole = table()
    split = time_split(whole, 0.25)
    scored = scored_users(split, EvalConfig())
    catalogue_order = np.arange(len(whole.catalogue), dtype=np.float64)[::-1]
    ranked = rank(lambda users: np.tile(catalogue_order, (len(users), 1)), scored.users, scored.seen, 5, 8)
    item = whole.catalogue.items.index
    # a interacted with r1, r2 and r4 in training; r3 and r5 are left, in catalogue order, then the list ends.
    assert ranked.tolist() == [[item["r3"], item["r5"], -1, -1, -1]]


def test_tiny_logs_and_bad_shares_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        time_split(table(), 1.0)
    with pytest.raises(ValueError, match="too small"):
        time_split(EventTable.build([WatchEvent("a", "r1", 1, watch_ratio=1.0)]), 0.2)


def test_label_windows_cover_the_end_of_the_training_part() -> None:
    assert window_bounds(1000, RankerConfig(label_windows=2, label_share=0.5)) == [500, 750, 1000]
