"""A rate-limited mutation says how long to wait the way Retry-After does: whole seconds,
rounded up, never 0 (a sub-second wait used to read "try again in 0 s")."""

from __future__ import annotations

import re

from tests.conftest import Api, insert_ready_reel

SHARE = "mutation S($id: ID!) { shareReel(input: {reelId: $id}) { userErrors { code message } } }"


def test_a_rate_limited_mutation_names_a_whole_second_wait(api: Api) -> None:
    _, creator = api.register("sharer_host")
    reel = insert_ready_reel(api, creator["id"])
    fan, _ = api.register("eager_sharer")

    for _ in range(200):
        errors = api.data(SHARE, {"id": reel}, token=fan)["shareReel"]["userErrors"]
        if errors:
            break
    assert [error["code"] for error in errors] == ["RATE_LIMITED"]
    wait = re.fullmatch(r"too many shares; try again in (\d+) s", errors[0]["message"])
    assert wait is not None and int(wait.group(1)) >= 1, errors
