"""Ids and cursors a client forged: numbers past 64 bits, non-ASCII digits, negative and empty
ids. Lookups answer null, mutations a NOT_FOUND userErrors entry, cursors an INVALID error;
never "Internal error" (the database refuses an integer past 64 bits with an exception)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.conftest import Api
from tests.security.conftest import Answer

PAST_64_BITS = ("9999999999999999999", str(2**63), str(2**64), "9" * 20, "9" * 40)
ODD_DIGITS = ("-1", "²", "١٢", "0x10", " 7", "")


def raw_global_id(type_name: str, raw_id: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("=")


def raw_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode(("c:" + ":".join(parts)).encode()).decode().rstrip("=")


HOSTILE_RAW_IDS = PAST_64_BITS + ODD_DIGITS

LOOKUPS = {
    "node": ("query Q($id: ID!) { node(id: $id) { id } }", "Reel", ("node",)),
    "reel": ("query Q($id: ID!) { reel(id: $id) { id } }", "Reel", ("reel",)),
}
MUTATIONS = {
    "likeReel": ("mutation M($id: ID!) { likeReel(input: {reelId: $id}) { reel { id } userErrors { code } } }", "Reel"),
    "follow": ("mutation M($id: ID!) { follow(input: {userId: $id}) { user { id } userErrors { code } } }", "User"),
    "createUpload": (
        """mutation M($id: ID!) { createUpload(input: {fileSize: 1000, contentType: "video/mp4", audioId: $id}) {
             uploadId userErrors { code } } }""",
        "Audio",
    ),
    "setAvatarFromReel": (
        "mutation M($id: ID!) { setAvatarFromReel(input: {reelId: $id, atMs: 0}) { user { id } userErrors { code } } }",
        "Reel",
    ),
}
FOLLOWERS = "query Q($id: ID!) { followers(userId: $id) { edges { cursor } } }"
CURSOR_LISTS = {
    "feed": ("query Q($after: String) { feed(after: $after) { edges { cursor } } }", 1),
    "trending": ("query Q($after: String) { trending(after: $after) { edges { cursor } } }", 1),
    "followingFeed": ("query Q($after: String) { followingFeed(after: $after) { edges { cursor } } }", 1),
    "followers": ("query Q($after: String, $u: ID!) { followers(userId: $u, after: $after) { edges { cursor } } }", 2),
    "following": ("query Q($after: String, $u: ID!) { following(userId: $u, after: $after) { edges { cursor } } }", 2),
}


@pytest.fixture
def token_and_user(api: Api) -> tuple[str, dict[str, Any]]:
    return api.register("forger")


@pytest.mark.parametrize("field", LOOKUPS)
def test_a_forged_id_looks_up_nothing(api: Api, healthy: Callable[[Iterable[Answer]], None], field: str) -> None:
    query, type_name, path = LOOKUPS[field]
    answers = [api(query, {"id": raw_global_id(type_name, raw)}) for raw in HOSTILE_RAW_IDS]
    for raw, body in zip(HOSTILE_RAW_IDS, answers, strict=True):
        assert body == {"data": {path[0]: None}, "extensions": body.get("extensions")}, raw
    healthy(answers)


@pytest.mark.parametrize("field", MUTATIONS)
def test_a_forged_id_in_a_mutation_is_not_found(
    api: Api, healthy: Callable[[Iterable[Answer]], None], token_and_user: tuple[str, dict[str, Any]], field: str
) -> None:
    query, type_name = MUTATIONS[field]
    token, _ = token_and_user
    answers = [api(query, {"id": raw_global_id(type_name, raw)}, token=token) for raw in HOSTILE_RAW_IDS]
    for raw, body in zip(HOSTILE_RAW_IDS, answers, strict=True):
        payload = body["data"][field]
        assert [error["code"] for error in payload["userErrors"]] == ["NOT_FOUND"], (raw, body)
    healthy(answers)


def test_followers_of_a_forged_user_id_are_none(api: Api, healthy: Callable[[Iterable[Answer]], None]) -> None:
    answers = [api(FOLLOWERS, {"id": raw_global_id("User", raw)}) for raw in HOSTILE_RAW_IDS]
    for raw, body in zip(HOSTILE_RAW_IDS, answers, strict=True):
        assert body["data"] == {"followers": {"edges": []}}, (raw, body)
    healthy(answers)


@pytest.mark.parametrize("field", CURSOR_LISTS)
def test_a_forged_cursor_is_invalid(
    api: Api, healthy: Callable[[Iterable[Answer]], None], token_and_user: tuple[str, dict[str, Any]], field: str
) -> None:
    query, parts = CURSOR_LISTS[field]
    token, user = token_and_user
    cursors = [raw_cursor(*[raw] * parts) for raw in HOSTILE_RAW_IDS if raw != "-1"]
    cursors += [raw_cursor(*["1"] * (parts - 1), raw) for raw in PAST_64_BITS]
    answers = [api(query, {"after": cursor, "u": user["id"]}, token=token) for cursor in cursors]
    for cursor, body in zip(cursors, answers, strict=True):
        assert body["data"] is None, (cursor, body)
        assert [error["extensions"]["code"] for error in body["errors"]] == ["INVALID"], (cursor, body)
    healthy(answers)


def test_the_largest_64_bit_id_is_simply_unknown(api: Api, healthy: Callable[[Iterable[Answer]], None]) -> None:
    body = api(LOOKUPS["reel"][0], {"id": raw_global_id("Reel", str(2**63 - 1))})
    assert body["data"] == {"reel": None}
    cursor = raw_cursor(str(2**63 - 1))
    page = api(CURSOR_LISTS["feed"][0], {"after": cursor})
    assert page["data"] == {"feed": {"edges": []}}, page
    healthy([body, page])
