"""Anonymous views are limited per client address as well as per session id: new session ids
cost nothing to make, so 30 of them from one address no longer add 30 views."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, insert_ready_reel
from tests.security.conftest import ApiOf

VIEW = "mutation V($input: RecordViewInput!) { recordView(input: $input) { counted userErrors { code } } }"
PER_ADDRESS = 10
PROXY = "10.0.0.2"


def _view(api: Api, reel: str, session_id: str, client: str) -> Any:
    response = api.client.post(
        "/graphql",
        json={
            "query": VIEW,
            "variables": {"input": {"reelId": reel, "watchedMs": 5000, "completed": False, "sessionId": session_id}},
        },
        headers={"X-Forwarded-For": client},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["recordView"]


def test_thirty_session_ids_from_one_address_count_as_the_limit_and_other_addresses_still_count(
    api_of: ApiOf,
) -> None:
    with api_of(peer=PROXY, trusted_proxies="10.0.0.0/8", anonymous_views_per_address=PER_ADDRESS) as api:
        _, creator = api.register("creator")
        reel = insert_ready_reel(api, creator["id"])
        other_reel = insert_ready_reel(api, creator["id"])
        counted = [_view(api, reel, f"farm-{n}", "198.51.100.9")["counted"] for n in range(30)]
        assert counted == [True] * PER_ADDRESS + [False] * (30 - PER_ADDRESS)
        assert _view(api, reel, "farm-0", "198.51.100.9") == {"counted": False, "userErrors": []}  # as before
        # Another household, and the same address on another reel, count as usual.
        assert _view(api, reel, "neighbour", "198.51.100.10")["counted"] is True
        assert _view(api, other_reel, "farm-31", "198.51.100.9")["counted"] is True
