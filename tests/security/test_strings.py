"""Lone UTF-16 surrogates (valid JSON escapes, not characters) in any string a client sends are
refused before anything runs: as INVALID in variables (input objects included), over HTTP and
over a websocket, and as a syntax error in the document's own literals."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.conftest import Api, insert_ready_reel
from tests.security.conftest import Answer

LONE_SURROGATES = ("\ud800", "\udfff", "a\udc00b", "#tag\ud83d", "\ude00 trailing low half")
# A whole pair is one character (U+1F600) once JSON is decoded: accepted.
JOINED_PAIR = "\ud83d\ude00"

# (operation, variables given the hostile text and the fixtures' ids)
OPERATIONS: dict[str, tuple[str, Callable[[str, dict[str, str]], dict[str, Any]]]] = {
    "comment": (
        "mutation M($r: ID!, $t: String!) { addComment(input: {reelId: $r, text: $t}) { userErrors { code } } }",
        lambda text, ids: {"r": ids["reel"], "t": text},
    ),
    "display name": (
        'mutation M($u: String!, $d: String) { register(input: {username: $u, password: "correct horse battery", '
        "displayName: $d}) { userErrors { code } } }",
        lambda text, ids: {"u": "surrogate_name", "d": text},
    ),
    "login": (
        "mutation M($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { userErrors { code } } }",
        lambda text, ids: {"u": text, "p": text},
    ),
    "search": (
        "query Q($q: String!) { search(query: $q) { users { id } hashtags { id } audio { id } } }",
        lambda text, ids: {"q": text},
    ),
    "hashtag": ("query Q($n: String!) { hashtag(name: $n) { id } }", lambda text, ids: {"n": text}),
    "caption": (
        'mutation M($c: String) { createUpload(input: {fileSize: 1000, contentType: "video/mp4", caption: $c}) '
        "{ userErrors { code } } }",
        lambda text, ids: {"c": text},
    ),
    "report details": (
        "mutation M($r: ID!, $d: String) { reportReel(input: {reelId: $r, reason: SPAM, details: $d}) "
        "{ userErrors { code } } }",
        lambda text, ids: {"r": ids["reel"], "d": text},
    ),
}


@pytest.fixture
def signed_in(api: Api) -> tuple[str, dict[str, str]]:
    token, user = api.register("writer")
    return token, {"reel": insert_ready_reel(api, user["id"])}


def _post_raw(api: Api, body: dict[str, Any], token: str) -> Any:
    """The JSON as a client library escapes lone surrogates: `\\ud800`, which json.dumps writes."""
    return api.client.post(
        "/graphql",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def _refused(answer: Any) -> None:
    assert answer.status_code in (200, 400), answer.text
    body = answer.json()
    assert body.get("data") is None, body
    assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID"], body


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_lone_surrogate_in_a_variable_is_invalid(
    api: Api, healthy: Callable[[Iterable[Answer]], None], signed_in: tuple[str, dict[str, str]], operation: str
) -> None:
    token, ids = signed_in
    query, variables = OPERATIONS[operation]
    # The same document with plain text first: a verdict kept for the document must not let
    # the next request's variables through.
    plain = _post_raw(api, {"query": query, "variables": variables("plain", ids)}, token)
    answers = [_post_raw(api, {"query": query, "variables": variables(text, ids)}, token) for text in LONE_SURROGATES]
    for answer in answers:
        _refused(answer)
    healthy([plain, *answers])


@pytest.mark.parametrize("text", LONE_SURROGATES)
def test_a_lone_surrogate_in_an_input_object_or_the_document_is_refused(
    api: Api, healthy: Callable[[Iterable[Answer]], None], signed_in: tuple[str, dict[str, str]], text: str
) -> None:
    token, _ = signed_in
    nested = {
        "query": "query Q($c: FeedContext) { feed(context: $c) { edges { cursor } } }",
        "variables": {"c": {"region": text}},
    }
    answers = [_post_raw(api, nested, token)]
    _refused(answers[0])
    # In the document, as the character or as a GraphQL escape, the lexer refuses it.
    for literal in ('"' + text + '"', json.dumps(text)):
        answer = _post_raw(api, {"query": "query { search(query: " + literal + ") { users { id } } }"}, token)
        assert answer.json()["data"] is None and "Syntax Error" in answer.json()["errors"][0]["message"], answer.text
        answers.append(answer)
    healthy(answers)


def test_a_lone_surrogate_over_a_websocket_is_an_error_message(api: Api, signed_in: tuple[str, dict[str, str]]) -> None:
    token, _ = signed_in
    query = "subscription S($r: ID!) { reelCounts(reelId: $r) { likes } }"
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        socket.send_json({"type": "connection_init", "payload": {"token": token}})
        assert socket.receive_json()["type"] == "connection_ack"
        socket.send_text(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"r": "\ud800"}}})
        )
        message = socket.receive_json()
    assert message["type"] == "error", message
    assert [error["extensions"]["code"] for error in message["payload"]] == ["INVALID"], message


def test_a_joined_surrogate_pair_is_an_ordinary_character(
    api: Api, healthy: Callable[[Iterable[Answer]], None], signed_in: tuple[str, dict[str, str]]
) -> None:
    token, ids = signed_in
    query, variables = OPERATIONS["comment"]
    answer = _post_raw(api, {"query": query, "variables": variables(f"nice {JOINED_PAIR}", ids)}, token)
    assert answer.json()["data"]["addComment"]["userErrors"] == [], answer.text
    healthy([answer])


@pytest.mark.parametrize("text", LONE_SURROGATES)
def test_a_lone_surrogate_in_the_operation_name_is_a_bad_request(
    api: Api, healthy: Callable[[Iterable[Answer]], None], signed_in: tuple[str, dict[str, str]], text: str
) -> None:
    token, _ = signed_in
    answer = _post_raw(api, {"query": "query Q { viewer { id } }", "operationName": text}, token)
    assert answer.status_code == 400, answer.text
    assert answer.json()["data"] is None and answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    healthy([answer])


def test_a_lone_surrogate_in_the_operation_name_over_a_websocket_is_an_error_message(
    api: Api, signed_in: tuple[str, dict[str, str]]
) -> None:
    """The refusal names the unknown operation, surrogate and all: the answer escapes it."""
    token, _ = signed_in
    query = "subscription S { notifications { id } }"
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        socket.send_json({"type": "connection_init", "payload": {"token": token}})
        assert socket.receive_json()["type"] == "connection_ack"
        socket.send_text(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "operationName": "\ud800"}})
        )
        message = json.loads(socket.receive_text())
    assert message["type"] == "error", message
    assert "\ud800" in message["payload"][0]["message"], message
