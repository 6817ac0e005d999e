"""updateReel: the creator edits the caption (its hashtags re-linked, their counts moved) and the
visibility (what counts see follows); anyone else is refused."""

from __future__ import annotations

from tests.conftest import Api, insert_ready_reel

UPDATE = """mutation U($input: UpdateReelInput!) {
  updateReel(input: $input) { reel { caption visibility hashtags { name } } userErrors { field code } }
}"""
TAG = "query T($name: String!) { hashtag(name: $name) { reelCount reels { edges { node { id } } } } }"


def update(api: Api, token: str, **fields: object) -> dict:
    return api.data(UPDATE, {"input": fields}, token=token)["updateReel"]


def reel_count(api: Api, name: str) -> int | None:
    tag = api.data(TAG, {"name": name})["hashtag"]
    return tag["reelCount"] if tag else None


def test_a_caption_edit_moves_the_hashtags_and_their_counts(api: Api) -> None:
    token, creator = api.register("editor")
    reel = insert_ready_reel(api, creator["id"])

    tagged = update(api, token, reelId=reel, caption="  morning #Cats #sun ")
    assert tagged == {
        "reel": {
            "caption": "morning #Cats #sun",
            "visibility": "PUBLIC",
            "hashtags": [{"name": "cats"}, {"name": "sun"}],
        },
        "userErrors": [],
    }
    assert (reel_count(api, "cats"), reel_count(api, "sun")) == (1, 1)

    retagged = update(api, token, reelId=reel, caption="evening #dogs #sun")
    assert sorted(tag["name"] for tag in retagged["reel"]["hashtags"]) == ["dogs", "sun"]
    assert (reel_count(api, "cats"), reel_count(api, "dogs"), reel_count(api, "sun")) == (0, 1, 1)

    hidden = update(api, token, reelId=reel, visibility="PRIVATE")
    assert hidden["reel"]["caption"] == "evening #dogs #sun" and hidden["reel"]["visibility"] == "PRIVATE"
    assert reel_count(api, "dogs") == 0  # anonymous viewers may not see it any more
    assert api.data(TAG, {"name": "dogs"})["hashtag"]["reels"]["edges"] == []


def test_only_the_creator_may_edit_and_the_caption_rules_hold(api: Api) -> None:
    token, creator = api.register("owner")
    reel = insert_ready_reel(api, creator["id"])
    stranger, _ = api.register("meddler")

    assert update(api, stranger, reelId=reel, caption="mine") == {
        "reel": None,
        "userErrors": [{"field": ["input", "reelId"], "code": "FORBIDDEN"}],
    }
    assert update(api, token, reelId=reel, caption="x" * 5000)["userErrors"] == [
        {"field": ["input", "caption"], "code": "TOO_LONG"}
    ]
    assert update(api, token, reelId="UmVlbDox", caption="gone")["userErrors"] == [
        {"field": ["input", "reelId"], "code": "NOT_FOUND"}
    ]
