"""The reel fields clients lay a player out with and share: the source's size and a share URL."""

from __future__ import annotations

from tests.conftest import Api, insert_ready_reel

REEL = "query R($id: ID!) { reel(id: $id) { id width height shareUrl } }"


def test_a_reel_shows_its_size_and_a_share_url(api: Api) -> None:
    _, creator = api.register("framer")
    reel_id = insert_ready_reel(api, creator["id"])

    reel = api.data(REEL, {"id": reel_id})["reel"]

    assert (reel["width"], reel["height"]) == (720, 1280)
    assert reel["shareUrl"] == f"http://localhost:8000/#/reel/{reel_id}"
