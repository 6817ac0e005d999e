"""Relay-complete connections: both ends of pageInfo, totalCount where it is cheap, and a user's
followers and following as fields of the user."""

from __future__ import annotations

from tests.conftest import Api

FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { code } } }"
PAGE_INFO = "pageInfo { hasNextPage endCursor hasPreviousPage startCursor }"
FOLLOWERS_OF_USER = f"""query F($name: String!, $after: String) {{
  user(username: $name) {{
    followers(first: 2, after: $after) {{ totalCount edges {{ cursor node {{ username }} }} {PAGE_INFO} }}
    following(first: 2) {{ totalCount edges {{ node {{ username }} }} }}
  }}
}}"""
FOLLOWERS_ROOT = f"""query F($id: ID!, $after: String) {{
  followers(userId: $id, first: 2, after: $after) {{ totalCount edges {{ node {{ username }} }} {PAGE_INFO} }}
}}"""


def test_a_users_followers_page_both_ways_with_a_total(api: Api) -> None:
    _, star = api.register("host")
    for n in range(3):
        fan_token, _ = api.register(f"guest_{n}")
        assert api.data(FOLLOW, {"id": star["id"]}, token=fan_token)["follow"]["userErrors"] == []

    first = api.data(FOLLOWERS_OF_USER, {"name": "host", "after": None})["user"]
    followers = first["followers"]
    assert followers["totalCount"] == 3 and first["following"] == {"totalCount": 0, "edges": []}
    assert [edge["node"]["username"] for edge in followers["edges"]] == ["guest_2", "guest_1"]
    info = followers["pageInfo"]
    assert info["hasNextPage"] is True and info["hasPreviousPage"] is False
    assert (
        info["startCursor"] == followers["edges"][0]["cursor"] and info["endCursor"] == followers["edges"][-1]["cursor"]
    )

    second = api.data(FOLLOWERS_OF_USER, {"name": "host", "after": info["endCursor"]})["user"]["followers"]
    assert [edge["node"]["username"] for edge in second["edges"]] == ["guest_0"]
    assert second["pageInfo"]["hasPreviousPage"] is True and second["pageInfo"]["hasNextPage"] is False

    root = api.data(FOLLOWERS_ROOT, {"id": star["id"], "after": info["endCursor"]})["followers"]
    assert (
        root["totalCount"] == 3
        and root["edges"] == [{"node": edge["node"]} for edge in second["edges"]]
        and root["pageInfo"] == second["pageInfo"]
    )

    guest_following = api.data(FOLLOWERS_OF_USER, {"name": "guest_0"})["user"]["following"]
    assert guest_following == {"totalCount": 1, "edges": [{"node": {"username": "host"}}]}


def test_an_empty_page_has_no_cursors(api: Api) -> None:
    _, loner = api.register("loner")
    empty = api.data(FOLLOWERS_ROOT, {"id": loner["id"]})["followers"]
    assert empty == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None, "hasPreviousPage": False, "startCursor": None},
    }
