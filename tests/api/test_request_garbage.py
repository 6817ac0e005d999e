"""A request's objects are freed by reference counting when it ends: none are left in reference
cycles for the cyclic garbage collector, whose passes over such leftovers stalled the requests
they fell in (the loaders and graphql-core's execution state of a feed page were ~240 objects)."""

from __future__ import annotations

import gc
import json
from collections import Counter
from typing import Any

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.settings import Settings
from tests.conftest import LOCAL_CLIENT, Api, insert_ready_reel, run

REQUESTS = 30
FEED = "query F($after: String) { feed(first: 5, after: $after) { edges { cursor node { id caption durationMs createdAt thumbnailUrl viewerHasLiked counts { likes views } creator { id username } } } pageInfo { endCursor } } }"
REEL = "query R($id: ID!) { reel(id: $id) { id caption viewerHasLiked counts { likes } creator { username } } }"
FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { message } } }"


async def _post(app: Any, body: dict[str, Any], token: str | None) -> bytes:
    """One request straight into the ASGI app, as uvicorn would make it."""
    raw = json.dumps(body).encode()
    headers = [(b"host", b"t"), (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "", "headers": headers,
        "client": LOCAL_CLIENT, "server": ("t", 80),
    }  # fmt: skip
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    out: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        out.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(out)


def _cyclic_garbage(api: Api, body: dict[str, Any], token: str | None) -> Counter[str]:
    """What REQUESTS requests leave for the cyclic collector, by type."""
    app = api.client.app

    async def measure() -> Counter[str]:
        for _ in range(3):  # warm: first-use caches are not garbage
            assert b'"errors"' not in await _post(app, body, token)
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(REQUESTS):
                await _post(app, body, token)
            gc.collect()
            return Counter(type(thing).__qualname__ for thing in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()

    found: Counter[str] = run(api, measure)
    return found


@pytest.fixture
def quiet_api(embedded_settings: Settings) -> Any:
    """The API without its in-process workers, whose own tasks would run meanwhile."""
    with TestClient(create_app(embedded_settings, run_workers=False), client=LOCAL_CLIENT) as client:
        yield Api(client)


def test_a_signed_in_feed_page_a_reel_and_a_typename_leave_no_cyclic_garbage(quiet_api: Api) -> None:
    _, creator = quiet_api.register("cycles")
    reels = [insert_ready_reel(quiet_api, creator["id"], caption=f"round {n}") for n in range(12)]
    viewer, _ = quiet_api.register("viewer")
    quiet_api.data(FOLLOW, {"id": creator["id"]}, viewer)
    after = quiet_api.data(FEED, {"after": None}, viewer)["feed"]["pageInfo"]["endCursor"]
    second = quiet_api.data(FEED, {"after": after}, viewer)["feed"]["edges"]
    assert len(second) == 5  # the page measured is a full one
    reel = reels[0]
    for body, who in (
        ({"query": "{ __typename }"}, None),
        ({"query": "{ __typename }"}, viewer),
        ({"query": FEED, "variables": {"after": after}}, viewer),
        ({"query": REEL, "variables": {"id": reel}}, viewer),
    ):
        left = _cyclic_garbage(quiet_api, body, who)
        assert sum(left.values()) == 0, (body["query"][:40], left.most_common(8))
