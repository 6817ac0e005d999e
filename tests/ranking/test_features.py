import numpy as np

from reels.ranking import FEATURE_NAMES, EventTable, FeatureState, Item, Trending, WatchEvent, pair_features
from reels.ranking.labels import DurationQuantiles
from reels.ranking.trending import TrendingConfig

HOUR = 3600.0


def column(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_streaming_in_chunks_gives_the_same_snapshot(small_table: EventTable) -> None:
    whole, chunked = FeatureState(), FeatureState()
    whole.update(small_table)
    for chunk in small_table.chunks(777):
        chunked.update(chunk)
    now = float(small_table.timestamp[-1])
    one, many = whole.snapshot(now), chunked.snapshot(now)
    np.testing.assert_allclose(one.users, many.users, rtol=1e-5)
    np.testing.assert_allclose(one.items, many.items, rtol=1e-5)
    users = np.repeat(np.arange(5), 40)
    items = np.tile(np.arange(40), 5)
    hours = np.zeros(len(users), np.float32)
    np.testing.assert_allclose(
        pair_features(one, users, items, hours), pair_features(many, users, items, hours), rtol=1e-5
    )


def test_cross_features_of_a_small_log() -> None:
    events = [
        WatchEvent("v", "a1", 0.0, watch_ratio=1.0, duration_ms=10_000, liked=True),
        WatchEvent("v", "a2", 60.0, watch_ratio=1.5, duration_ms=10_000),
        WatchEvent("v", "b1", 120.0, watch_ratio=0.05, duration_ms=40_000, not_interested=True),
        WatchEvent("w", "a1", 180.0, watch_ratio=0.5, duration_ms=10_000),
    ]
    items = [
        Item("a1", category="dance", creator_id="ann"),
        Item("a2", category="dance", creator_id="ann"),
        Item("a3", category="dance", creator_id="ann"),
        Item("b1", category="cooking", creator_id="bob"),
        Item("b2", category="cooking", creator_id="bob"),
    ]
    table = EventTable.build(events, items, follows=[("v", "ann")])
    state = FeatureState()
    state.set_follows(table.follows)
    state.update(table)
    snapshot = state.snapshot(now=2 * HOUR)
    item = table.catalogue.items.index
    viewer = table.users.index["v"]
    rows = pair_features(snapshot, np.array([viewer, viewer]), np.array([item["a3"], item["b2"]]), np.zeros(2))
    dance, cooking = rows
    assert dance[column("follows_creator")] == 1 and cooking[column("follows_creator")] == 0
    assert dance[column("user_category_share")] == np.float32(2 / 3)
    assert cooking[column("not_interested_creator")] == 1
    assert dance[column("user_creator_interactions")] == np.float32(np.log1p(2))
    assert dance[column("user_events")] == np.float32(np.log1p(3))
    assert dance[column("user_skip_rate")] == np.float32(1 / 3)
    first = snapshot.item_row(item["a1"])
    assert first["item_events"] == np.float32(np.log1p(2))
    assert np.isnan(snapshot.item_row(item["a3"])["item_age_days"])  # never seen yet
    # A viewer never seen gets no history: zero events, the rest unknown.
    stranger = pair_features(snapshot, np.array([99]), np.array([item["a1"]]), np.zeros(1))[0]
    assert stranger[column("user_events")] == 0 and np.isnan(stranger[column("user_completion_rate")])


def test_full_watch_is_debiased_by_duration() -> None:
    rng = np.random.default_rng(0)
    duration = np.repeat([10_000.0, 90_000.0], 2000)
    # Short reels are watched (and looped) much further than long ones.
    watch = np.where(duration < 50_000, rng.uniform(0.3, 1.6, 4000), rng.uniform(0.0, 1.1, 4000))
    assert (watch[duration < 50_000] >= 1).mean() > 4 * (watch[duration > 50_000] >= 1).mean()
    quantiles = DurationQuantiles.fit(watch, duration, buckets=2)
    full = quantiles.full_watch(watch, duration)
    short, long = full[duration < 50_000].mean(), full[duration > 50_000].mean()
    assert abs(short - long) < 0.05  # each bucket keeps the overall share of full watches
    assert quantiles.thresholds[1] < 1.0  # a long reel counts as watched in full before its end


def test_trending_needs_a_minimum_and_decays() -> None:
    trending = Trending(TrendingConfig(half_life_s=HOUR, min_interactions=3))
    trending.update(np.array([0, 0, 0, 1, 1]), np.zeros(5), np.array([True, True, False, True, True]))
    now = trending.scores(0.0, 3)
    assert now[0] > 0 and now[1] == 0 and now[2] == 0
    later, much_later = trending.scores(HOUR, 3)[0], trending.scores(10 * HOUR, 3)[0]
    assert now[0] > later > much_later > 0
    assert trending.top(0.0, 5).tolist() == [0]
