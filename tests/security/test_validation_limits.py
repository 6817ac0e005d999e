"""Validation is linear in the document and its limits stay as strict when their verdicts are
kept: fragment chains that expand to 2^40 selections are refused or answered at once, a
document with several operations needs `operationName`, and a kept verdict never stands in for
a check that depends on the request (variables, the operation chosen)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from graphql import parse

from reels.schema.limits import DOCUMENT_BYTES_PER_CHARACTER, DocumentChecks, Limits
from tests.conftest import Api

CHAIN = 40  # each fragment spreads the previous one twice: 2^40 selections once expanded


def doubling_chain(root: str, base: str, levels: int = CHAIN) -> str:
    """`query { ...F<levels> }` where F0 selects `base` and each F<i> spreads F<i-1> twice."""
    fragments = [f"fragment F0 on {root} {{ {base} }}"]
    fragments += [f"fragment F{i} on {root} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    operation = "mutation" if root == "Mutation" else "query"
    return f"{operation} {{ ...F{levels} }} " + " ".join(fragments)


def nesting_chain(levels: int) -> str:
    """A chain where each fragment nests the previous one a field deeper, twice."""
    fragments = ["fragment F0 on User { id }"]
    fragments += [
        f"fragment F{i} on User {{ reels(first: 1) {{ edges {{ node {{ creator {{ ...F{i - 1} }} }} }} "
        f"pageInfo {{ hasNextPage }} }} ...F{i - 1} }}"
        for i in range(1, levels + 1)
    ]
    return f'query {{ user(username: "x") {{ ...F{levels} }} }} ' + " ".join(fragments)


EXPANDING_DOCUMENTS: dict[str, tuple[str, str]] = {
    "cost": (doubling_chain("Query", "viewer { id }"), "QUERY_COST_LIMIT"),
    "aliases": (doubling_chain("Query", "a: __typename b: __typename"), "ALIAS_LIMIT"),
    "mutation fields": (
        doubling_chain("Mutation", 'likeReel(input: {reelId: "x"}) { userErrors { code } }'),
        "QUERY_COST_LIMIT",
    ),
    "depth": (nesting_chain(16), "QUERY_DEPTH_LIMIT"),
}


@pytest.mark.timeout(120)  # a bound on a hang, not a measure: before the fix this ran for hours
@pytest.mark.parametrize("name", EXPANDING_DOCUMENTS)
def test_fragment_chains_are_refused_without_expanding_them(
    api: Api, healthy: Callable[[Iterable[Any]], None], name: str
) -> None:
    query, code = EXPANDING_DOCUMENTS[name]
    assert len(query.encode()) < 4096
    body = api(query)
    assert body.get("data") is None and body["errors"], body
    assert code in {error.get("extensions", {}).get("code") for error in body["errors"]}, body
    healthy([body])


@pytest.mark.timeout(120)
def test_a_valid_fragment_chain_is_answered(api: Api, healthy: Callable[[Iterable[Any]], None]) -> None:
    body = api(doubling_chain("Query", "__typename"))
    assert body["data"] == {"__typename": "Query"} and "errors" not in body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 0
    healthy([body])


def test_the_limits_hold_every_time_a_document_is_sent(api: Api, healthy: Callable[[Iterable[Any]], None]) -> None:
    deep = nesting_chain(4)
    wide = "query { " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
    answers = [api(query) for query in (deep, deep, wide, wide)]
    codes = [answer["errors"][0]["extensions"]["code"] for answer in answers]
    assert codes == ["QUERY_DEPTH_LIMIT", "QUERY_DEPTH_LIMIT", "ALIAS_LIMIT", "ALIAS_LIMIT"]
    healthy(answers)


def test_a_kept_verdict_does_not_cover_the_variables(api: Api, healthy: Callable[[Iterable[Any]], None]) -> None:
    query = "query Q($n: Int!) { feed(first: $n) { edges { node { id } } } }"
    small, large, small_again = (api(query, {"n": n}) for n in (5, 500, 5))
    assert "errors" not in small and "errors" not in small_again
    assert large["errors"][0]["extensions"]["code"] == "PAGE_SIZE_LIMIT"
    healthy([small, large, small_again])


TWO_OPERATIONS = "query A { __typename } query B { viewer { id } }"


@pytest.mark.parametrize(
    "query",
    [
        TWO_OPERATIONS,
        'query A { __typename } mutation B { likeReel(input: {reelId: "x"}) { reel { id } } }',
        "query A { a: __typename } query B { b: __typename } query C { __typename }",
    ],
)
def test_several_operations_without_an_operation_name_are_refused(
    api: Api, healthy: Callable[[Iterable[Any]], None], query: str
) -> None:
    body = api(query)
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    healthy([body])


def test_operation_name_picks_one_of_several(api: Api, healthy: Callable[[Iterable[Any]], None]) -> None:
    response = api.client.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "B"})
    assert response.status_code == 200 and response.json()["data"] == {"viewer": None}
    unnamed = api(TWO_OPERATIONS)
    assert unnamed["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    healthy([response, unnamed])


def test_the_document_cache_is_bounded_by_memory() -> None:
    query = "query { feed(first: 1) { edges { node { id } } } }"
    budget = 10 * DOCUMENT_BYTES_PER_CHARACTER * len(query)
    checks = DocumentChecks(Limits(max_depth=12, max_aliases=30, max_cost=5000, max_page_size=100), budget)
    for index in range(50):
        text = query.replace("id", f"id{index:02}")
        checks.keep(text, parse(text))
    assert checks.documents.currsize <= budget
    assert 0 < len(checks.documents) <= 10
    huge = "{ " + "__typename " * 1000 + "}"
    checks.keep(huge, parse(huge))  # larger than the whole budget: not kept, nothing evicted for it
    assert huge not in checks.documents and checks.documents.currsize <= budget


LONG_NUMBER = "9" * 5001

LONG_NUMBER_DOCUMENTS = {
    "an argument": f"{{ feed(first: {LONG_NUMBER}) {{ edges {{ node {{ id }} }} }} }}",
    "a negative argument": f"{{ feed(first: -{LONG_NUMBER}) {{ edges {{ node {{ id }} }} }} }}",
    "a variable's default": f"query Q($n: Int = {LONG_NUMBER}) {{ feed(first: $n) {{ edges {{ node {{ id }} }} }} }}",
    "a float": f"{{ feed(first: 1.{LONG_NUMBER}) {{ edges {{ node {{ id }} }} }} }}",
    "an id": f"{{ reel(id: {LONG_NUMBER}) {{ id }} }}",
}


@pytest.mark.parametrize("name", LONG_NUMBER_DOCUMENTS)
def test_a_number_literal_too_long_for_any_argument_is_refused(
    api: Api, healthy: Callable[[Iterable[Any]], None], name: str
) -> None:
    body = api(LONG_NUMBER_DOCUMENTS[name])
    assert body.get("data") is None and body["errors"][0]["extensions"]["code"] == "INVALID", body
    healthy([body])


FEED_OF_N = "{ edges { node { id } } } }"


@pytest.mark.parametrize(
    ("query", "variables", "page"),
    [
        ("query Q($n: Int) { feed(first: $n) " + FEED_OF_N, {}, 20),
        ("query Q($n: Int = 3) { feed(first: $n) " + FEED_OF_N, {}, 3),
        ("query Q($n: Int = 3) { feed(first: $n) " + FEED_OF_N, {"n": 5}, 5),
        ("query Q($n: Int = 3) { feed(first: $n) " + FEED_OF_N, {"n": None}, 20),
        ("query Q { feed " + FEED_OF_N, {}, 20),
    ],
    ids=["not supplied", "declared default", "supplied", "explicit null", "argument left out"],
)
def test_first_left_unsupplied_takes_its_default(
    api: Api, healthy: Callable[[Iterable[Any]], None], query: str, variables: dict[str, Any], page: int
) -> None:
    body = api(query, variables)
    assert "errors" not in body, body
    one_reel = 2  # edges and node
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2 + page * one_reel
    healthy([body])


def test_a_variable_that_does_not_coerce_is_refused_before_costing(
    api: Api, healthy: Callable[[Iterable[Any]], None]
) -> None:
    body = api("query Q($n: Int) { feed(first: $n) " + FEED_OF_N, {"n": "many"})
    assert body.get("data") is None
    assert "$n" in body["errors"][0]["message"] and "Undefined" not in body["errors"][0]["message"]
    healthy([body])
