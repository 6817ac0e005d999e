"""Counts and search see only what the viewer may see: search does not offer a hashtag or a
sound used only on reels the viewer may not see, and reelCount / useCount count the reels its
list shows (a hashtag looked up by its name shows 0)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from reels.domain.models import Audio, Hashtag, Reel, ReelHashtag
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.security.conftest import Answer

FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { code } } }"
HASHTAG = "query H($n: String!) { hashtag(name: $n) { reelCount reels { edges { node { id } } } } }"
SEARCH = "query S($q: String!) { search(query: $q) { hashtags { name reelCount } audio { title useCount } } }"


def _tag_and_sound(api: Api, reel_ids: list[str], name: str) -> None:
    """Tag every reel with `name` and give them one sound titled after it."""

    async def write() -> None:
        async with platform_of(api).sessions.begin() as session:
            ids = [db_id(reel_id) for reel_id in reel_ids]
            hashtag = Hashtag(name=name, reel_count=len(ids))
            session.add(hashtag)
            await session.flush()
            session.add_all(ReelHashtag(reel_id=reel_id, hashtag_id=hashtag.id) for reel_id in ids)
            reels = [await session.get(Reel, reel_id) for reel_id in ids]
            sound = Audio(
                title=f"sound of {name}",
                creator_id=reels[0].creator_id,
                original_reel_id=ids[0],
                use_count=len(ids),
            )
            session.add(sound)
            await session.flush()
            for reel in reels:
                reel.audio_id = sound.id

    run(api, write)


@pytest.fixture
def people(api: Api) -> dict[str, Any]:
    maker_token, maker = api.register("maker")
    follower_token, _ = api.register("follower")
    api.data(FOLLOW, {"id": maker["id"]}, token=follower_token)
    stranger_token, _ = api.register("stranger")
    return {"maker": maker, "tokens": {"maker": maker_token, "follower": follower_token, "stranger": stranger_token}}


def test_a_tag_and_sound_used_only_on_hidden_reels_are_not_found_nor_counted(
    api: Api, healthy: Callable[[Iterable[Answer]], None], people: dict[str, Any]
) -> None:
    maker = people["maker"]
    hidden = [insert_ready_reel(api, maker["id"], visibility=v) for v in ("PRIVATE", "FOLLOWERS")]
    _tag_and_sound(api, hidden, "secretplans")
    answers = []
    for who in (None, people["tokens"]["stranger"], people["tokens"]["follower"]):
        tag = api(HASHTAG, {"n": "secretplans"}, who)
        found = api(SEARCH, {"q": "secretplans"}, who)
        assert tag["data"] == {"hashtag": {"reelCount": 0, "reels": {"edges": []}}}, (who, tag)
        assert found["data"]["search"] == {"hashtags": [], "audio": []}, (who, found)
        answers += [tag, found]
    own = api.data(SEARCH, {"q": "secretplans"}, people["tokens"]["maker"])["search"]
    assert own == {
        "hashtags": [{"name": "secretplans", "reelCount": 2}],
        "audio": [{"title": "sound of secretplans", "useCount": 2}],
    }
    healthy(answers)


def test_counts_are_what_the_list_shows(
    api: Api, healthy: Callable[[Iterable[Answer]], None], people: dict[str, Any]
) -> None:
    maker = people["maker"]
    reels = [insert_ready_reel(api, maker["id"], visibility=v) for v in ("PUBLIC", "PRIVATE", "FOLLOWERS")]
    _tag_and_sound(api, reels, "mixed")
    answers = []
    for who in (None, people["tokens"]["stranger"], people["tokens"]["follower"], people["tokens"]["maker"]):
        tag = api(HASHTAG, {"n": "mixed"}, who)
        found = api(SEARCH, {"q": "mixed"}, who)
        shown = len(tag["data"]["hashtag"]["reels"]["edges"])
        assert tag["data"]["hashtag"]["reelCount"] == shown, (who, tag)
        assert found["data"]["search"]["audio"][0]["useCount"] == shown, (who, found)
        answers += [tag, found]
    assert [answer["data"]["hashtag"]["reelCount"] for answer in answers[::2]] == [1, 1, 1, 3]
    healthy(answers)
