"""explore: trending reels mixed with trending hashtags and, for a signed-in viewer, creators two
hops out in the follow graph; paged by cursor, hidden reels left out."""

from __future__ import annotations

from tests.conftest import Api
from tests.discovery.conftest import set_counts, set_reel, tagged_reel, unique

EXPLORE = """query E($first: Int, $after: String, $context: FeedContext) {
  explore(first: $first, after: $after, context: $context) {
    edges { cursor node {
      __typename
      ... on Reel { id }
      ... on HashtagTrend { hashtag { name } uses24h }
      ... on User { username }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""
FOLLOW = "mutation F($input: UserInput!) { follow(input: $input) { userErrors { code } } }"
PROFILE = "mutation P($input: UpdateProfileInput!) { updateProfile(input: $input) { userErrors { code } } }"


def explore_all(api: Api, token: str | None, context: dict | None = None) -> list[dict]:
    nodes, after = [], None
    while True:
        page = api.data(EXPLORE, {"first": 5, "after": after, "context": context}, token)["explore"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def test_explore_mixes_trending_reels_hashtags_and_suggested_creators(discovery_api: Api) -> None:
    api = discovery_api
    viewer_token, _ = api.register(unique("explorer"))
    friend_token, friend = api.register(unique("friend"))
    token, creator = api.register(unique("star"))
    assert api.data(PROFILE, {"input": {"region": "KE"}}, token)["updateProfile"]["userErrors"] == []
    api.data(FOLLOW, {"input": {"userId": friend["id"]}}, viewer_token)
    api.data(FOLLOW, {"input": {"userId": creator["id"]}}, friend_token)
    tag = unique("wave")
    reels = [tagged_reel(api, token, creator["id"], f"#{tag} {n}") for n in range(6)]
    set_counts(api, reels[2], likes=100, views=1000)
    set_reel(api, reels[5], visibility="PRIVATE")

    mixed = explore_all(api, viewer_token, {"region": "KE"})
    reel_ids = [node["id"] for node in mixed if node["__typename"] == "Reel"]
    assert reel_ids[0] == reels[2]  # the most popular first
    assert sorted(reel_ids) == sorted(reels[:5])  # each once across the pages; the private one never
    assert {"hashtag": {"name": tag}, "uses24h": 5, "__typename": "HashtagTrend"} in mixed
    assert {"__typename": "User", "username": creator["username"]} in mixed
    kinds = [node["__typename"] for node in mixed]
    assert kinds[:4] == ["Reel"] * 4 and set(kinds[4:6]) == {"HashtagTrend", "User"}

    anonymous = explore_all(api, None, {"region": "KE"})
    assert not [node for node in anonymous if node["__typename"] == "User"]
    assert {node["id"] for node in anonymous if node["__typename"] == "Reel"} == set(reels[:5])
    elsewhere = explore_all(api, None, {"region": "NZ"})  # another region's trends
    assert not set(reels) & {node.get("id") for node in elsewhere}

    refused = api(EXPLORE, {"first": 5, "context": {"region": "Kenya"}})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID"
