"""Request bodies a client controls: a body over the 1 MiB cap is refused with 413 before it is
parsed (by its Content-Length or as it streams in), and a body that is not a GraphQL request
(not JSON, not an object, too deep, too long a number, not UTF-8) is a 400 with a GraphQL error."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from tests.conftest import Api

MIB = 1024 * 1024

MALFORMED_BODIES = {
    "a string": b'"hello"',
    "a number": b"5",
    "null": b"null",
    "true": b"true",
    "arrays 5,000 deep": b"[" * 5000 + b"]" * 5000,
    "objects 5,000 deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "arrays 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "a 5,001-digit integer": b'{"query": "{ __typename }", "variables": {"n": ' + b"9" * 5001 + b"}}",
    "invalid UTF-8": b'{"query": "{ __typename \xff\xfe }"}',
    "invalid UTF-8 alone": b"\xff\xfe\xfd",
    "truncated": b'{"query": "{ __typename }"',
    "empty": b"",
    "a query that is a number": b'{"query": 5}',
    "variables that are a list": b'{"query": "{ __typename }", "variables": [1]}',
    "an operationName that is a number": b'{"query": "{ __typename }", "operationName": 5}',
    "an unknown operationName": b'{"query": "query A { __typename }", "operationName": "B"}',
    "a batch": b'[{"query": "{ __typename }"}]',
}


@pytest.mark.parametrize("name", MALFORMED_BODIES)
def test_a_malformed_body_is_a_400_with_a_graphql_error(
    api: Api, healthy: Callable[[Iterable[Any]], None], name: str
) -> None:
    response = api.client.post("/graphql", content=MALFORMED_BODIES[name], headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None and body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    healthy([response])


def _query_of(size: int) -> bytes:
    """A JSON request `size` bytes long whose query is mostly a comment."""
    prefix, suffix = b'{"query": "{ __typename } #', b'"}'
    return prefix + b"x" * (size - len(prefix) - len(suffix)) + suffix


def test_a_body_at_the_cap_is_served(api: Api, healthy: Callable[[Iterable[Any]], None]) -> None:
    response = api.client.post("/graphql", content=_query_of(MIB), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}
    healthy([response])


def test_a_body_over_the_cap_is_a_413(api: Api, healthy: Callable[[Iterable[Any]], None]) -> None:
    response = api.client.post("/graphql", content=_query_of(MIB + 1), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    healthy([response])


def test_a_streamed_body_over_the_cap_is_a_413(api: Api, healthy: Callable[[Iterable[Any]], None]) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"query": "{ __typename } #'
        for _ in range(20):
            yield b"x" * (MIB // 8)
        yield b'"}'

    response = api.client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    healthy([response])


def test_a_body_claiming_to_be_over_the_cap_is_refused_unread(
    api: Api, healthy: Callable[[Iterable[Any]], None]
) -> None:
    body = json.dumps({"query": "{ __typename }"}).encode()
    response = api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json", "content-length": str(10 * MIB)}
    )
    assert response.status_code == 413
    healthy([response])


def test_many_distinct_large_documents_are_each_refused_or_answered(
    api: Api, healthy: Callable[[Iterable[Any]], None]
) -> None:
    answers = [
        api.client.post("/graphql", content=_query_of(MIB - index), headers={"content-type": "application/json"})
        for index in range(8)
    ]
    assert [answer.status_code for answer in answers] == [200] * 8
    healthy(answers)
