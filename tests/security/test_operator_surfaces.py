"""Who may read /metrics (REELS_METRICS_NETWORKS, REELS_METRICS_TOKEN) and introspect the schema
(REELS_INTROSPECTION), through the public HTTP surface."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from reels.domain.models import Role, User
from reels.settings import ConfigError, Settings
from tests.conftest import Api, db_id, platform_of, run
from tests.security.conftest import ApiOf

TOKEN = "metrics-scraper-token-0123456789"
SCHEMA = "query { __schema { queryType { name } } }"
TYPE_IN_A_FRAGMENT = 'query Q { ...F } fragment F on Query { __type(name: "User") { name } }'
TYPENAME = "query { __typename viewer { __typename } }"


def _metrics(api: Api, **headers: str) -> Any:
    return api.client.get("/metrics", headers=headers)


def test_metrics_are_open_to_this_machine_and_closed_to_others(api_of: ApiOf) -> None:
    with api_of(peer="127.0.0.1") as api:
        assert _metrics(api).status_code == 200
    with api_of(peer="::1") as api:
        assert _metrics(api).status_code == 200
    with api_of() as api:  # an address on the internet
        refused = _metrics(api)
        assert refused.status_code == 403 and "REELS_METRICS_TOKEN" in refused.text
        assert "reels_" not in refused.text


def test_a_bearer_token_or_a_listed_network_opens_metrics(api_of: ApiOf) -> None:
    with api_of(metrics_token=TOKEN) as api:
        assert _metrics(api, authorization=f"Bearer {TOKEN}").status_code == 200
        assert "reels_queue_depth" in _metrics(api, authorization=f"Bearer {TOKEN}").text
        for wrong in (f"Bearer {TOKEN}x", TOKEN, "Bearer ", f"Basic {TOKEN}"):
            assert _metrics(api, authorization=wrong).status_code == 403, wrong
    with api_of(peer="10.1.2.3", metrics_networks="10.0.0.0/8") as api:
        assert _metrics(api).status_code == 200
    with api_of(peer="127.0.0.1", metrics_networks="") as api:  # emptied: the token only
        assert _metrics(api).status_code == 403


def test_a_forwarded_address_is_believed_from_trusted_proxies_only(api_of: ApiOf) -> None:
    # Through a trusted proxy the client is the forwarded address: a forged loopback hop before
    # it changes nothing, and a proxy on this machine does not open /metrics to the internet.
    with api_of(peer="10.0.0.2", trusted_proxies="10.0.0.0/8") as api:
        assert _metrics(api, **{"x-forwarded-for": "127.0.0.1, 203.0.113.9"}).status_code == 403
        assert _metrics(api, **{"x-forwarded-for": "127.0.0.1"}).status_code == 200
    with api_of(peer="127.0.0.1", trusted_proxies="127.0.0.1") as api:
        assert _metrics(api, **{"x-forwarded-for": "203.0.113.9"}).status_code == 403


def _moderator(api: Api) -> str:
    token, user = api.register("watcher")

    async def promote() -> None:
        async with platform_of(api).sessions.begin() as session:
            await session.execute(update(User).where(User.id == db_id(user["id"])).values(role=Role.MODERATOR))

    run(api, promote)
    return token


def _refused(body: dict[str, Any]) -> bool:
    return body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


def test_staff_introspection_is_for_moderators_and_admins(api_of: ApiOf) -> None:
    with api_of(introspection="staff") as api:
        user_token, _ = api.register("plain")
        moderator = _moderator(api)
        for token in (None, user_token):
            assert _refused(api(SCHEMA, token=token))
            assert _refused(api(TYPE_IN_A_FRAGMENT, token=token))
        assert api.data(SCHEMA, token=moderator)["__schema"]["queryType"]["name"] == "Query"
        assert api.data(TYPE_IN_A_FRAGMENT, token=moderator)["__type"]["name"] == "User"
        assert api.data(TYPENAME)["__typename"] == "Query"  # not introspection: always allowed
        # An invalid document keeps its own errors.
        invalid = api("query { __schema { nope } }")["errors"][0]
        assert "nope" in invalid["message"] and invalid.get("extensions", {}).get("code") != "FORBIDDEN"


def test_introspection_off_refuses_everyone_and_public_nobody(api_of: ApiOf) -> None:
    with api_of(introspection="off") as api:
        assert _refused(api(SCHEMA, token=_moderator(api)))
        assert api.data(TYPENAME)["__typename"] == "Query"
    with api_of(introspection="public") as api:
        assert api.data(SCHEMA)["__schema"]["queryType"]["name"] == "Query"


def test_introspection_over_a_websocket_follows_the_setting(api_of: ApiOf) -> None:
    with api_of(introspection="off") as api:
        with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SCHEMA}})
            message = ws.receive_json()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


def test_the_defaults_are_public_embedded_and_staff_with_services(tmp_path: Any) -> None:
    assert Settings(data_dir=tmp_path).introspection_access == "public"
    with_services = Settings(data_dir=tmp_path, redis_url="redis://cache:6379/0")
    assert with_services.introspection_access == "staff"
    assert with_services.metrics_token is None and with_services.metrics_networks == "127.0.0.0/8,::1"
    with pytest.raises(ConfigError, match="REELS_METRICS_NETWORKS"):
        Settings(data_dir=tmp_path, metrics_networks="10.0.0.0/8,somewhere").validate_services()
    with pytest.raises(ConfigError, match="REELS_METRICS_TOKEN"):
        Settings(data_dir=tmp_path, metrics_token="short").validate_services()
