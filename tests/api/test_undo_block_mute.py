"""unblockUser and unmuteUser undo, and the viewer sees whom they block and mute."""

from __future__ import annotations

from tests.conftest import Api

ACT = "mutation A($id: ID!) { %s(input: {userId: $id}) { user { username } userErrors { code } } }"
LISTS = """query { viewer {
  blocked(first: 5) { totalCount edges { node { username } } pageInfo { hasNextPage } }
  muted(first: 5) { totalCount edges { node { username } } }
} }"""
OTHERS_LISTS = "query U($name: String!) { user(username: $name) { blocked { totalCount } muted { totalCount } } }"
NODE = "query N($id: ID!) { node(id: $id) { id } }"


def act(api: Api, verb: str, user_id: str, token: str) -> dict:
    return api.data(ACT % verb, {"id": user_id}, token=token)[verb]


def test_block_and_mute_are_listed_and_undone(api: Api) -> None:
    me, _ = api.register("curator")
    _, troll = api.register("troll")
    _, bore = api.register("bore")

    assert act(api, "blockUser", troll["id"], me)["userErrors"] == []
    assert act(api, "muteUser", bore["id"], me)["userErrors"] == []
    assert api.data(NODE, {"id": troll["id"]}, token=me)["node"] is None
    lists = api.data(LISTS, token=me)["viewer"]
    assert lists["blocked"] == {
        "totalCount": 1,
        "edges": [{"node": {"username": "troll"}}],
        "pageInfo": {"hasNextPage": False},
    }
    assert lists["muted"] == {"totalCount": 1, "edges": [{"node": {"username": "bore"}}]}
    assert api.data(OTHERS_LISTS, {"name": "troll"}, token=me)["user"] is None  # blocked: not shown at all
    assert api.data(OTHERS_LISTS, {"name": "bore"}, token=me)["user"] == {"blocked": None, "muted": None}

    assert act(api, "unblockUser", troll["id"], me) == {"user": {"username": "troll"}, "userErrors": []}
    assert act(api, "unmuteUser", bore["id"], me) == {"user": {"username": "bore"}, "userErrors": []}
    assert act(api, "unblockUser", troll["id"], me)["userErrors"] == []  # harmless twice
    assert api.data(NODE, {"id": troll["id"]}, token=me)["node"] == {"id": troll["id"]}
    lists = api.data(LISTS, token=me)["viewer"]
    assert lists["blocked"]["totalCount"] == 0 and lists["muted"] == {"totalCount": 0, "edges": []}


def test_undo_refuses_oneself_unknown_users_and_anonymous(api: Api) -> None:
    me, mine = api.register("loner_two")
    assert act(api, "unblockUser", mine["id"], me)["userErrors"] == [{"code": "INVALID"}]
    assert act(api, "unmuteUser", "VXNlcjox", me)["userErrors"] == [{"code": "NOT_FOUND"}]
    assert api.data(ACT % "unmuteUser", {"id": mine["id"]})["unmuteUser"]["userErrors"] == [{"code": "UNAUTHENTICATED"}]
