"""The notification inbox: newest first, ids and read times, marking read, the unread count,
and nothing lost while a client had no socket open."""

from __future__ import annotations

from tests.conftest import Api

FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { code } } }"
INBOX = """query Inbox($first: Int, $after: String) {
  viewer { unreadNotificationCount }
  notifications(first: $first, after: $after) {
    edges { cursor node { id kind readAt createdAt actor { username } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
MARK = """mutation Mark($ids: [ID!]!) {
  markNotificationsRead(input: {ids: $ids}) { notifications { id readAt } userErrors { field code } }
}"""
UNREAD = (
    "query U($id: ID!) { viewer { unreadNotificationCount } node(id: $id) { ... on User { unreadNotificationCount } } }"
)


def test_inbox_lists_newest_first_pages_and_marks_read(api: Api) -> None:
    star_token, star = api.register("star")
    fans = [api.register(f"fan_{n}")[0] for n in range(3)]
    for fan_token in fans:  # made while the star had no socket open: the inbox still holds them
        assert api.data(FOLLOW, {"id": star["id"]}, token=fan_token)["follow"]["userErrors"] == []

    first_page = api.data(INBOX, {"first": 2}, token=star_token)
    assert first_page["viewer"]["unreadNotificationCount"] == 3
    edges = first_page["notifications"]["edges"]
    assert [edge["node"]["actor"]["username"] for edge in edges] == ["fan_2", "fan_1"]
    assert all(edge["node"]["kind"] == "FOLLOWED" and edge["node"]["readAt"] is None for edge in edges)
    assert first_page["notifications"]["pageInfo"]["hasNextPage"] is True

    after = first_page["notifications"]["pageInfo"]["endCursor"]
    rest = api.data(INBOX, {"first": 2, "after": after}, token=star_token)["notifications"]
    assert [edge["node"]["actor"]["username"] for edge in rest["edges"]] == ["fan_0"]
    assert rest["pageInfo"]["hasNextPage"] is False

    ids = [edge["node"]["id"] for edge in edges]
    marked = api.data(MARK, {"ids": ids}, token=star_token)["markNotificationsRead"]
    assert marked["userErrors"] == [] and sorted(n["id"] for n in marked["notifications"]) == sorted(ids)
    assert all(n["readAt"].endswith("Z") for n in marked["notifications"])
    again = api.data(MARK, {"ids": ids[:1]}, token=star_token)["markNotificationsRead"]
    assert again["notifications"][0]["readAt"] == next(
        n["readAt"] for n in marked["notifications"] if n["id"] == ids[0]
    )

    after_marking = api.data(INBOX, {"first": 5}, token=star_token)
    assert after_marking["viewer"]["unreadNotificationCount"] == 1
    assert [edge["node"]["readAt"] is None for edge in after_marking["notifications"]["edges"]] == [False, False, True]


def test_others_notifications_cannot_be_marked_and_the_count_is_the_viewers_own(api: Api) -> None:
    star_token, star = api.register("idol")
    fan_token, fan = api.register("admirer")
    api.data(FOLLOW, {"id": star["id"]}, token=fan_token)
    star_ids = [e["node"]["id"] for e in api.data(INBOX, {"first": 20}, token=star_token)["notifications"]["edges"]]

    refused = api.data(MARK, {"ids": star_ids}, token=fan_token)["markNotificationsRead"]
    assert refused == {"notifications": None, "userErrors": [{"field": ["input", "ids"], "code": "NOT_FOUND"}]}
    assert api.data(MARK, {"ids": ["bm9wZQ"]}, token=star_token)["markNotificationsRead"]["userErrors"][0]["code"] == (
        "NOT_FOUND"
    )
    assert api.data(UNREAD, {"id": star["id"]}, token=star_token)["viewer"]["unreadNotificationCount"] == 1
    assert api.data(UNREAD, {"id": star["id"]}, token=fan_token)["node"]["unreadNotificationCount"] is None


def test_the_inbox_needs_a_viewer(api: Api) -> None:
    body = api(INBOX, {"first": 20})
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    anonymous = api.data(MARK, {"ids": []})["markNotificationsRead"]
    assert anonymous["userErrors"] == [{"field": [], "code": "UNAUTHENTICATED"}]
