"""A burst of engagement ending in a counted view reaches exact totals: no event of the burst,
the last one included, is left out of the counts. Runs on the embedded setup and on Redis +
PostgreSQL."""

from __future__ import annotations

from tests.conftest import Api
from tests.engagement.conftest import eventually, unique
from tests.engagement.test_engagement_api import LIKE, _view, counts, setup_reel

SESSIONS = 12


def test_a_burst_ending_in_a_counted_view_reaches_exact_totals(live_api: Api) -> None:
    api = live_api
    _, _, reel = setup_reel(api, duration_ms=8_000)
    likers = [api.register(unique("liker"))[0] for _ in range(3)]
    expected_views = 0
    for n in range(SESSIONS):
        if n < len(likers):
            assert api.data(LIKE, {"id": reel}, token=likers[n])["likeReel"]["userErrors"] == []
        watched_ms = 4_000 if n % 2 == 0 else 1_000  # every other watch is under the milestone
        counted = _view(api, reel, watched_ms, session_id=f"burst-{n}")["counted"]
        assert counted is (watched_ms >= 3_000)
        expected_views += counted
    last = _view(api, reel, 5_000, session_id="burst-last")  # the burst ends with a counted view
    assert last == {"counted": True, "userErrors": []}
    expected_views += 1

    totals = {"likes": len(likers), "views": expected_views, "comments": 0, "shares": 0}
    eventually(lambda: counts(api, reel)["counts"] == totals)


def test_a_session_id_the_database_cannot_store_is_refused_and_counting_goes_on(live_api: Api) -> None:
    """Queued, a NUL in a session id made every later flush fail on PostgreSQL: counts stopped at
    the flush before it, whatever came after."""
    api = live_api
    _, _, reel = setup_reel(api, duration_ms=8_000)
    assert _view(api, reel, 4_000, session_id="before")["counted"] is True
    eventually(lambda: counts(api, reel)["counts"]["views"] == 1)

    refused = _view(api, reel, 4_000, session_id="nul\x00session")
    assert refused["counted"] is False
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["input", "sessionId"], "INVALID")]
    assert _view(api, reel, 4_000, session_id="after")["counted"] is True
    eventually(lambda: counts(api, reel)["counts"]["views"] == 2)
