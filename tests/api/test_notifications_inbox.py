"""The notification inbox: newest first, ids and read times, marking read, the unread count,
and nothing lost while a client had no socket open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.conftest import Api, insert_ready_reel

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


LIVE = "subscription { notifications { id kind readAt actor { username } } }"
LIKE = "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { userErrors { code } } }"
BLOCK = "mutation B($id: ID!) { blockUser(input: {userId: $id}) { userErrors { code } } }"
PAGE = """query Page($first: Int, $after: String) {
  viewer { unreadNotificationCount }
  notifications(first: $first, after: $after) {
    totalCount edges { node { id readAt actor { username } } } pageInfo { hasNextPage endCursor }
  }
}"""


@contextmanager
def listening(api: Api, token: str) -> Iterator[Any]:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"token": token}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "n", "type": "subscribe", "payload": {"query": LIVE}})
        yield ws


def whole_inbox(api: Api, token: str) -> tuple[list[dict[str, Any]], int, int]:
    """Every notification, a page of one at a time, as a client back from a dropped socket reads
    them; with the unread count and the total the first page reported."""
    nodes: list[dict[str, Any]] = []
    after = None
    first_page = None
    while True:
        page = api.data(PAGE, {"first": 1, "after": after}, token=token)
        first_page = first_page or page
        nodes += [edge["node"] for edge in page["notifications"]["edges"]]
        if not page["notifications"]["pageInfo"]["hasNextPage"]:
            break
        after = page["notifications"]["pageInfo"]["endCursor"]
    return nodes, first_page["viewer"]["unreadNotificationCount"], first_page["notifications"]["totalCount"]


def test_a_client_that_reconnects_finds_what_it_missed_unread_in_the_inbox(api: Api) -> None:
    star_token, star = api.register("streamer")
    fans = {name: api.register(name) for name in ("early_fan", "late_fan", "troll", "quiet_fan")}
    reel = insert_ready_reel(api, star["id"])

    with listening(api, star_token) as ws:
        api.data(FOLLOW, {"id": star["id"]}, token=fans["early_fan"][0])
        live = ws.receive_json()["payload"]["data"]["notifications"]
    assert live["kind"] == "FOLLOWED" and live["readAt"] is None

    # The socket is gone: these happen while the client is away.
    api.data(FOLLOW, {"id": star["id"]}, token=fans["troll"][0])
    api.data(LIKE, {"id": reel}, token=fans["late_fan"][0])
    api.data(FOLLOW, {"id": star["id"]}, token=fans["quiet_fan"][0])
    assert api.data(BLOCK, {"id": fans["troll"][1]["id"]}, token=star_token)["blockUser"]["userErrors"] == []

    with listening(api, star_token) as ws:
        nodes, unread, total = whole_inbox(api, star_token)
        # Newest first, the one seen live included (seeing it is not reading it), the blocked
        # account's left out of the list and of both counts alike.
        assert [(n["actor"]["username"], n["readAt"]) for n in nodes] == [
            ("quiet_fan", None),
            ("late_fan", None),
            ("early_fan", None),
        ]
        assert nodes[-1]["id"] == live["id"]
        assert unread == total == 3
        api.data(LIKE, {"id": reel}, token=fans["quiet_fan"][0])
        after_reconnect = ws.receive_json()["payload"]["data"]["notifications"]
    assert after_reconnect["kind"] == "LIKED" and after_reconnect["actor"]["username"] == "quiet_fan"
    assert whole_inbox(api, star_token)[0][0]["id"] == after_reconnect["id"]
