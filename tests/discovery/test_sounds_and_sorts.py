"""A sound's creator renames it (updateAudio); a hashtag's and a sound's reels sort by recency or
popularity, in pages whose cursors carry the order."""

from __future__ import annotations

from tests.conftest import Api
from tests.discovery.conftest import set_counts, set_reel, sound_of, tagged_reel, unique

RENAME = """mutation R($input: UpdateAudioInput!) {
  updateAudio(input: $input) { audio { id title } userErrors { field code message } }
}"""
CREATE = """mutation C($input: CreateUploadInput!) {
  createUpload(input: $input) { reel { id } userErrors { field code } }
}"""
TAG_REELS = """query T($name: String!, $sort: ReelSort, $after: String) {
  hashtag(name: $name) { reels(first: 2, sort: $sort, after: $after) {
    edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }
}"""
SOUND_REELS = """query S($id: ID!, $sort: ReelSort) {
  node(id: $id) { ... on Audio { reels(sort: $sort) { edges { node { id } } } } }
}"""


def rename(api: Api, token: str, audio_id: str, title: str) -> dict:
    return api.data(RENAME, {"input": {"audioId": audio_id, "title": title}}, token)["updateAudio"]


def test_only_the_creator_renames_a_sound_and_titles_are_checked(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = api.register(unique("composer"))
    other, _ = api.register(unique("other"))
    sound = sound_of(api, creator["id"], f"Original audio · @{creator['username']}", [])

    assert rename(api, token, sound, "  Rain on tin  ") == {
        "audio": {"id": sound, "title": "Rain on tin"},
        "userErrors": [],
    }
    refused = rename(api, other, sound, "Mine now")
    assert refused["audio"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["input", "audioId"], "FORBIDDEN")]
    for title, code in (("   ", "INVALID"), ("x" * 101, "TOO_LONG"), ("two\nlines", "INVALID")):
        errors = rename(api, token, sound, title)["userErrors"]
        assert [(e["field"], e["code"]) for e in errors] == [(["input", "title"], code)], title
    assert [e["code"] for e in rename(api, token, "QXVkaW86MQ", "x")["userErrors"]] == ["NOT_FOUND"]  # Audio:1
    assert [
        e["code"] for e in api.data(RENAME, {"input": {"audioId": sound, "title": "x"}})["updateAudio"]["userErrors"]
    ] == ["UNAUTHENTICATED"]
    title = api.data("query N($id: ID!) { node(id: $id) { ... on Audio { title } } }", {"id": sound})
    assert title["node"]["title"] == "Rain on tin"


def test_an_upload_names_its_sound_but_not_a_reused_one(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = api.register(unique("uploader"))
    sound = sound_of(api, creator["id"], "Beat", [])
    both = {"fileSize": 1000, "contentType": "video/mp4", "audioId": sound, "audioTitle": "Mine"}
    errors = api.data(CREATE, {"input": both}, token)["createUpload"]["userErrors"]
    assert errors == [{"field": ["input", "audioTitle"], "code": "INVALID"}]
    blank = {"fileSize": 1000, "contentType": "video/mp4", "audioTitle": " "}
    assert api.data(CREATE, {"input": blank}, token)["createUpload"]["userErrors"] == [
        {"field": ["input", "audioTitle"], "code": "INVALID"}
    ]


def test_popular_and_recent_orders_page_through_the_listed_reels(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = api.register(unique("sorter"))
    tag = unique("sorted")
    oldest, middle, newest, hidden = (tagged_reel(api, token, creator["id"], f"#{tag} {n}") for n in range(4))
    set_counts(api, middle, likes=30, views=100)  # 250
    set_counts(api, oldest, likes=2, views=40)  # 50
    set_counts(api, hidden, likes=500, views=5000)
    set_reel(api, hidden, visibility="PRIVATE")

    def pages(sort: str) -> list[str]:
        ids, after = [], None
        while True:
            page = api.data(TAG_REELS, {"name": tag, "sort": sort, "after": after})["hashtag"]["reels"]
            ids += [edge["node"]["id"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return ids
            after = page["pageInfo"]["endCursor"]

    assert pages("POPULAR") == [middle, oldest, newest]
    assert pages("RECENT") == [newest, middle, oldest]

    sound = sound_of(api, creator["id"], "Loop", [oldest, middle, newest, hidden])
    by_sound = api.data(SOUND_REELS, {"id": sound, "sort": "POPULAR"})["node"]["reels"]["edges"]
    assert [edge["node"]["id"] for edge in by_sound] == [middle, oldest, newest]

    recent_cursor = api.data(TAG_REELS, {"name": tag, "sort": "RECENT"})["hashtag"]["reels"]["pageInfo"]["endCursor"]
    refused = api(TAG_REELS, {"name": tag, "sort": "POPULAR", "after": recent_cursor})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID"
