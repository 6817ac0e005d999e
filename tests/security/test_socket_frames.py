"""graphql-transport-ws frames a client controls: a frame that is not a well-formed message
closes the socket with 4400 and a reason; an operation that does not parse is answered with an
`error` message and the socket goes on serving."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from tests.conftest import Api

BAD_FRAMES = {
    "a list": "[1,2]",
    "a string": '"hello"',
    "a number": "5",
    "null": "null",
    "not JSON": "{nope",
    "a type that is not a string": '{"type": 5}',
    "no type": '{"id": "1"}',
    "arrays 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "a 5,001-digit integer": '{"type": "ping", "payload": {"n": ' + "9" * 5001 + "}}",
    "a subscribe whose payload is a string": '{"id": "1", "type": "subscribe", "payload": "{ __typename }"}',
    "a subscribe whose payload is a list": '{"id": "1", "type": "subscribe", "payload": ["{ __typename }"]}',
    "a subscribe without a payload": '{"id": "1", "type": "subscribe"}',
    "a subscribe whose query is empty": '{"id": "1", "type": "subscribe", "payload": {"query": ""}}',
    "a subscribe whose query is a number": '{"id": "1", "type": "subscribe", "payload": {"query": 5}}',
    "a subscribe whose variables are a list": (
        '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", "variables": [1]}}'
    ),
    "a subscribe whose operationName is an object": (
        '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", "operationName": {}}}'
    ),
    "a subscribe whose id is a number": '{"id": 1, "type": "subscribe", "payload": {"query": "{ __typename }"}}',
    "a subscribe without an id": '{"type": "subscribe", "payload": {"query": "{ __typename }"}}',
    "an unknown type": '{"type": "hello"}',
    "a complete whose id is a list": '{"id": [1], "type": "complete"}',
    "a complete whose id is an object": '{"id": {}, "type": "complete"}',
}


@contextmanager
def acknowledged_socket(api: Api) -> Iterator[WebSocketTestSession]:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        yield ws


@pytest.mark.parametrize("name", BAD_FRAMES)
def test_a_bad_frame_closes_the_socket_with_4400_and_a_reason(
    api: Api, healthy: Callable[[Iterable[Any]], None], name: str
) -> None:
    with acknowledged_socket(api) as ws:
        ws.send_text(BAD_FRAMES[name])
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4400 and closed.value.reason
    healthy([])


def test_a_bad_frame_before_connection_init_closes_with_4400(
    api: Api, healthy: Callable[[Iterable[Any]], None]
) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_text("[1,2]")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4400
    healthy([])


UNPARSABLE_OPERATIONS = {
    "a syntax error": "{ viewer { id } } }",
    "an unclosed selection": 'subscription { reelCounts(reelId: "x") { likes ',
    "over the token limit": "{ " + "__typename " * 2500 + "}",
}


@pytest.mark.parametrize("name", UNPARSABLE_OPERATIONS)
def test_an_operation_that_does_not_parse_is_answered_with_an_error(
    api: Api, healthy: Callable[[Iterable[Any]], None], name: str
) -> None:
    with acknowledged_socket(api) as ws:
        ws.send_json({"id": "bad", "type": "subscribe", "payload": {"query": UNPARSABLE_OPERATIONS[name]}})
        message = ws.receive_json()
        assert message["type"] == "error" and message["id"] == "bad", message
        assert message["payload"][0]["message"]
        ws.send_json({"id": "good", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        answer = ws.receive_json()
        assert answer["type"] == "next" and answer["payload"]["data"] == {"__typename": "Query"}
    healthy([message, answer])


def test_a_socket_operation_with_two_operations_needs_a_name(
    api: Api, healthy: Callable[[Iterable[Any]], None]
) -> None:
    query = "query A { __typename } query B { __typename }"
    with acknowledged_socket(api) as ws:
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        refused = ws.receive_json()
        ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": query, "operationName": "B"}})
        answered = ws.receive_json()
    assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    assert answered["type"] == "next" and answered["payload"]["data"] == {"__typename": "Query"}
    healthy([refused, answered])


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("{ __typename }", "Missing"),
        ("query A { __typename }", "Missing"),
        ("subscription S { __typename }", "Missing"),
        ("query A { __typename }", "\ud800"),
    ],
    ids=["anonymous", "another name", "a subscription", "a lone surrogate"],
)
def test_an_unknown_operation_name_is_answered_with_an_error(
    api: Api, healthy: Callable[[Iterable[Any]], None], query: str, name: str
) -> None:
    with acknowledged_socket(api) as ws:
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query, "operationName": name}})
        refused = ws.receive_json()
        ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        answered = ws.receive_json()
    assert refused["type"] == "error" and refused["id"] == "1", refused
    assert name in refused["payload"][0]["message"]
    assert refused["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert answered["type"] == "next" and answered["payload"]["data"] == {"__typename": "Query"}
    healthy([refused, answered])
