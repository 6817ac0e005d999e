"""A suspended account's reels are hidden from everyone but moderators until the suspension is
lifted: not opened by id, not in its profile, a feed, a hashtag's list or count."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from reels.domain.models import Hashtag, ReelHashtag, Role, User
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run
from tests.security.conftest import Answer

READS = """
query R($id: ID!) {
  reel(id: $id) { id }
  node(id: $id) { id }
  user(username: "banned") { reels { edges { node { id } } } }
  feed { edges { node { id } } }
  hashtag(name: "bannedtag") { reelCount reels { edges { node { id } } } }
}"""


def _set_user(api: Api, user_id: str, **values: Any) -> None:
    async def write() -> None:
        async with platform_of(api).sessions.begin() as session:
            await session.execute(update(User).where(User.id == db_id(user_id)).values(**values))

    run(api, write)


def _tag(api: Api, reel_id: str, name: str) -> None:
    async def write() -> None:
        async with platform_of(api).sessions.begin() as session:
            hashtag = Hashtag(name=name, reel_count=1)
            session.add(hashtag)
            await session.flush()
            session.add(ReelHashtag(reel_id=db_id(reel_id), hashtag_id=hashtag.id))

    run(api, write)


def test_a_suspended_creators_reels_are_hidden_until_the_suspension_is_lifted(
    api: Api, healthy: Callable[[Iterable[Answer]], None]
) -> None:
    _, banned = api.register("banned")
    reel_id = insert_ready_reel(api, banned["id"])
    _tag(api, reel_id, "bannedtag")
    viewer, _ = api.register("viewer")
    moderator, moderator_user = api.register("moderator")
    _set_user(api, moderator_user["id"], role=Role.MODERATOR)

    def reads(token: str | None) -> dict[str, Any]:
        return api.data(READS, {"id": reel_id}, token)

    shown = reads(viewer)
    assert shown["reel"] == {"id": reel_id} and shown["hashtag"]["reelCount"] == 1

    _set_user(api, banned["id"], suspended_at=datetime.now(UTC), suspended_reason="spam")
    answers = []
    for token in (None, viewer):
        hidden = reads(token)
        assert (hidden["reel"], hidden["node"]) == (None, None), hidden
        assert hidden["user"] in (None, {"reels": {"edges": []}}), hidden
        assert reel_id not in [edge["node"]["id"] for edge in hidden["feed"]["edges"]], hidden
        assert hidden["hashtag"] == {"reelCount": 0, "reels": {"edges": []}}, hidden
        answers.append(hidden)
    assert reads(moderator)["reel"] == {"id": reel_id}  # to review the account

    _set_user(api, banned["id"], suspended_at=None, suspended_reason=None)
    assert reads(viewer) == shown
    healthy(answers)
