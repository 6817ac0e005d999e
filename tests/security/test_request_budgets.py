"""Per-client request budgets: operations over a websocket draw from the same budget as HTTP,
the media routes have one of their own, and X-Forwarded-For names the client only when a
trusted proxy sent it."""

from __future__ import annotations

import pytest

from reels.settings import ConfigError, Settings
from tests.conftest import Api
from tests.security.conftest import ApiOf

TYPENAME = "{ __typename }"
BURST = 5
# Slow enough that no token comes back while a test runs.
RATE = {"requests_per_second": 0.001, "request_burst": BURST}


def test_socket_operations_spend_the_clients_http_budget(api_of: ApiOf) -> None:
    with api_of(**RATE) as api:
        for _ in range(BURST - 2):
            assert api.post(TYPENAME).status_code == 200
        with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            assert ws.receive_json()["type"] == "connection_ack"
            answers = []
            for n in range(3):
                ws.send_json({"id": str(n), "type": "subscribe", "payload": {"query": TYPENAME}})
                answers.append(ws.receive_json())
                if answers[-1]["type"] == "next":
                    assert ws.receive_json()["type"] == "complete"
            assert [answer["type"] for answer in answers] == ["next", "next", "error"]
            refusal = answers[-1]["payload"][0]
            assert refusal["extensions"]["code"] == "RATE_LIMITED"
            assert f"retry in {refusal['extensions']['retryAfter']} s" in refusal["message"]
        refused = api.post(TYPENAME)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert f"retry in {refused.headers['Retry-After']} s" in refused.json()["errors"][0]["message"]


def test_media_routes_have_a_budget_of_their_own(api_of: ApiOf) -> None:
    with api_of(media_requests_per_second=0.001, media_request_burst=3) as api:
        paths = ["/media/reels/1/thumb.jpg", "/playlists/reels/1/hls/master.m3u8", "/media/reels/1/preview.mp4"]
        assert all(api.client.get(path).status_code < 429 for path in paths)
        refused = api.client.get("/media/reels/1/thumb.jpg")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        refused_upload = api.client.put("/media-upload/u/1", content=b"x")
        assert refused_upload.status_code == 429
        assert api.post(TYPENAME).status_code == 200  # the API's budget is untouched


def spend_budget(api: Api, headers: dict[str, str]) -> int:
    """How many requests with these headers were answered before the first 429."""
    answered = 0
    while api.client.post("/graphql", json={"query": TYPENAME}, headers=headers).status_code != 429:
        answered += 1
        assert answered <= BURST, "never refused"
    return answered


def test_forwarded_for_from_an_untrusted_peer_is_ignored(api_of: ApiOf) -> None:
    with api_of(**RATE) as api:
        assert spend_budget(api, {"X-Forwarded-For": "198.51.100.1"}) == BURST
        # A new address in the header does not buy a new budget.
        assert (
            api.client.post(
                "/graphql", json={"query": TYPENAME}, headers={"X-Forwarded-For": "198.51.100.2"}
            ).status_code
            == 429
        )


def test_forwarded_for_from_a_trusted_proxy_names_the_client(api_of: ApiOf) -> None:
    with api_of(peer="10.0.0.5", trusted_proxies="10.0.0.0/8, 192.0.2.1", **RATE) as api:
        # Through two trusted hops; what the client put in front of the header is not believed.
        first = {"X-Forwarded-For": "6.6.6.6, 198.51.100.1, 192.0.2.1"}
        assert spend_budget(api, first) == BURST
        assert spend_budget(api, {"X-Forwarded-For": "6.6.6.6, 198.51.100.2, 192.0.2.1"}) == BURST
        assert api.client.post("/graphql", json={"query": TYPENAME}, headers=first).status_code == 429


def test_a_malformed_trusted_proxies_setting_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="REELS_TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.0/8, not-a-network").validate_services()
