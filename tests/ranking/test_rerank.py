import pytest

from reels.ranking import Candidate, creator_discount, rerank


def test_creator_discount_follows_the_published_curve() -> None:
    assert [creator_discount(n) for n in range(4)] == [1.0, 0.625, 0.4375, 0.34375]


def test_a_creators_later_reels_give_way() -> None:
    candidates = [
        Candidate("a1", 1.0, creator_id="a"),
        Candidate("a2", 0.9, creator_id="a"),
        Candidate("a3", 0.8, creator_id="a"),
        Candidate("b1", 0.6, creator_id="b"),
    ]
    # a2 is worth 0.9 · 0.625 = 0.5625 after a1, less than b1's 0.6.
    assert [c.item_id for c in rerank(candidates, 4)] == ["a1", "b1", "a2", "a3"]


def test_at_most_two_of_one_category_in_a_row() -> None:
    candidates = [Candidate(f"d{n}", 1.0 - n / 10, category="dance") for n in range(4)]
    candidates += [Candidate("c0", 0.1, category="cooking"), Candidate("c1", 0.05, category="cooking")]
    order = [c.item_id for c in rerank(candidates, 6)]
    assert order == ["d0", "d1", "c0", "d2", "d3", "c1"]


def test_hashtag_runs_are_broken_too() -> None:
    candidates = [
        Candidate("x", 0.9, hashtags=("Cats",)),
        Candidate("y", 0.8, hashtags=("cats", "funny")),
        Candidate("z", 0.7, hashtags=("cats",)),
        Candidate("w", 0.1, hashtags=("dogs",)),
    ]
    assert [c.item_id for c in rerank(candidates, 4)] == ["x", "y", "w", "z"]


def test_a_run_is_allowed_when_nothing_else_is_left() -> None:
    candidates = [Candidate(f"d{n}", 1.0 - n / 10, category="dance") for n in range(3)]
    assert [c.item_id for c in rerank(candidates, 3)] == ["d0", "d1", "d2"]


@pytest.mark.parametrize(("network", "device"), [("SLOW", None), (None, "LOW"), ("SLOW", "LOW")])
def test_weak_links_favour_shorter_reels(network: str | None, device: str | None) -> None:
    candidates = [Candidate("long", 1.0, duration_ms=90_000), Candidate("short", 0.8, duration_ms=8_000)]
    assert [c.item_id for c in rerank(candidates, 2)] == ["long", "short"]
    assert [c.item_id for c in rerank(candidates, 2, network=network, device=device)] == ["short", "long"]


def test_limit_and_negative_scores() -> None:
    candidates = [Candidate("bad", -1.0, creator_id="a"), Candidate("ok", 0.2, creator_id="a")]
    assert [c.item_id for c in rerank(candidates, 1)] == ["ok"]
    assert [c.item_id for c in rerank(candidates, 5)] == ["ok", "bad"]
