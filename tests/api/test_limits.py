"""API limits: depth, page size, cost, aliases, tokens; masked internal errors."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import Api


def deep_query(levels: int) -> str:
    """A query `levels` fields deep: reel → creator → reels → edges → node → creator → …"""
    body = "id"
    depth = 1
    while depth < levels:
        body = f"creator {{ reels(first: 1) {{ edges {{ node {{ {body} }} }} }} }}"
        depth += 4
    return f'query {{ reel(id: "x") {{ {body} }} }}'


def test_a_30_deep_query_is_refused(api: Api) -> None:
    body = api(deep_query(30))
    assert body.get("data") is None
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


def test_a_modest_query_runs_and_reports_its_cost(api: Api) -> None:
    body = api("query { feed(first: 10) { edges { node { id creator { username } } } } }")
    assert "errors" not in body
    # 2 + 10 × (edges 1 + node 1 + creator 1) = 32
    assert body["extensions"]["cost"]["requestedQueryCost"] == 32


def test_one_document_is_costed_by_the_page_sizes_each_request_asks(api: Api) -> None:
    """The cost of a document is kept per operation and page sizes, never reused for others."""
    query = "query Q($n: Int, $m: Int) { feed(first: $n) { edges { node { id comments(first: $m) { edges { node { id } } } } } } }"
    costs = []
    for n, m in [(10, 1), (10, 1), (20, 1), (10, 5), (None, 1)]:
        body = api(query, {"n": n, "m": m})
        assert "errors" not in body, body
        costs.append(body["extensions"]["cost"]["requestedQueryCost"])
    # 2 + n × (edges 1 + node 1 + comments (2 + m × (edges 1 + node 1)))
    assert costs == [62, 62, 122, 142, 122]  # an unset `first` takes the default, 20
    refused = api(query, {"n": 100, "m": 100})
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_COST_LIMIT"
    refused = api(query, {"n": 101, "m": 1})
    assert refused["errors"][0]["extensions"]["code"] == "PAGE_SIZE_LIMIT"


@pytest.mark.parametrize("first", [5000, 101, -1])
def test_page_size_beyond_the_cap_is_refused(api: Api, first: int) -> None:
    body = api("query Q($n: Int!) { feed(first: $n) { edges { node { id } } } }", {"n": first})
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "PAGE_SIZE_LIMIT"
    assert "between 0 and 100" in body["errors"][0]["message"]


def test_an_over_costly_query_is_refused(api: Api) -> None:
    query = (
        "query { feed(first: 100) { edges { node { comments(first: 100) { edges { node { id author { id } } } } } } } }"
    )
    body = api(query)
    assert body.get("data") is None and body["errors"][0]["extensions"]["code"] == "QUERY_COST_LIMIT"


def test_too_many_aliases_are_refused(api: Api) -> None:
    query = "query { " + " ".join(f"a{i}: viewer {{ id }}" for i in range(40)) + " }"
    body = api(query)
    assert body.get("data") is None and "aliases" in body["errors"][0]["message"]


def test_unexpected_errors_are_masked_with_a_request_id(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from reels.resolvers import discovery

    async def broken(info, name):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret database detail")

    monkeypatch.setattr(discovery, "hashtag", broken)
    body = api('query { hashtag(name: "x") { name } }')
    error = body["errors"][0]
    assert error["message"].startswith("Internal error (request id ")
    assert "secret" not in str(body) and "Traceback" not in str(body)
    assert error["extensions"]["requestId"] in caplog.text and "secret database detail" in caplog.text


def test_client_mistakes_are_not_logged_as_server_errors(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for mistake in ("{ nope }", "{ viewer { id } } }", "{ feed(first: 500) { edges { node { id } } } }"):
        assert api(mistake)["errors"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "client error: Cannot query field 'nope'" in caplog.text


def test_get_queries_and_the_playground(api: Api) -> None:
    response = api.client.get("/graphql", params={"query": "{ viewer { id } }"})
    assert response.status_code == 200 and response.json() == {
        "data": {"viewer": None},
        "extensions": response.json()["extensions"],
    }
    page = api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_healthz_and_metrics(api: Api) -> None:
    health = api.client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert set(health.json()["checks"]) >= {"database", "kv", "queue", "pubsub", "objectstore", "graph"}
    api("query Hello { viewer { id } }")
    metrics = api.client.get("/metrics").text
    assert 'reels_graphql_requests_total{operation="Hello",outcome="ok",type="query"}' in metrics
    assert "reels_queue_depth" in metrics


def test_operations_per_websocket_are_capped(api: Api) -> None:
    from tests.conftest import insert_ready_reel

    _, creator = api.register("busy_creator")
    reel = insert_ready_reel(api, creator["id"])
    limit = api.client.app.state.platform.settings.max_subscriptions_per_connection
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        for n in range(limit + 1):
            ws.send_json(
                {
                    "id": str(n),
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription S($id: ID!) { reelCounts(reelId: $id) { likes } }",
                        "variables": {"id": reel},
                    },
                }
            )
        message = ws.receive_json()
    assert message["type"] == "error" and message["id"] == str(limit)
    assert message["payload"][0]["message"] == "Subscription limit reached"


def test_a_subscription_sent_over_http_is_refused_with_a_clear_error(api: Api) -> None:
    from tests.conftest import insert_ready_reel

    _, creator = api.register("http_subscriber")
    reel = insert_ready_reel(api, creator["id"])
    body = api("subscription S($id: ID!) { reelCounts(reelId: $id) { likes } }", {"id": reel})
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "INVALID"}
    assert "graphql-transport-ws" in body["errors"][0]["message"]
