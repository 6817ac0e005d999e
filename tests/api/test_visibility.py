"""One visibility rule: its SQL form and its Python form agree on every kind of reel, and the
API's lists never show a reel that the reel's own page refuses."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from reels.domain.models import Reel, ReelStatus, Role, User, Visibility
from reels.domain.visibility import can_see_reel, is_listed, listed_to
from reels.schema.globalid import to_global_id
from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run

FOLLOW = "mutation F($id: ID!) { follow(input: {userId: $id}) { userErrors { code } } }"
BLOCK = "mutation B($id: ID!) { blockUser(input: {userId: $id}) { userErrors { code } } }"
USER_REELS = 'query { user(username: "maker") { reels(first: 50) { edges { node { id } } } } }'


def _set(api: Api, model: Any, row_id: int, **values: Any) -> None:
    async def write() -> None:
        async with platform_of(api).sessions.begin() as session:
            await session.execute(update(model).where(model.id == row_id).values(**values))

    run(api, write)


def _every_kind_of_reel(api: Api, creator: dict[str, Any]) -> None:
    for status, visibility, deleted in itertools.product(ReelStatus, Visibility, (False, True)):
        reel_id = db_id(insert_ready_reel(api, creator["id"], visibility=visibility.value))
        _set(api, Reel, reel_id, status=status, deleted_at=datetime.now(UTC) if deleted else None)


def test_the_sql_form_selects_what_the_python_form_lists(api: Api) -> None:
    _, maker = api.register("maker")
    _every_kind_of_reel(api, maker)
    _, banned = api.register("banned")
    _every_kind_of_reel(api, banned)
    _set(api, User, db_id(banned["id"]), suspended_at=datetime.now(UTC))
    _, other = api.register("other")
    _set(api, User, db_id(other["id"]), role=Role.MODERATOR)

    async def compare() -> None:
        async with platform_of(api).sessions() as session:
            reels = list((await session.scalars(select(Reel))).all())
            users = list((await session.scalars(select(User))).all())
            suspended = {user.id for user in users if user.suspended_at is not None}
            for viewer, follows in itertools.product([None, *users], (False, True)):
                selected = set(
                    (await session.scalars(select(Reel.id).where(listed_to(viewer, follows_creator=follows)))).all()
                )
                listed = {
                    reel.id
                    for reel in reels
                    if is_listed(
                        reel,
                        viewer,
                        viewer_follows_creator=follows,
                        blocked_either_way=False,
                        creator_suspended=reel.creator_id in suspended,
                    )
                }
                assert selected == listed, (viewer and viewer.username, follows)
                # Whatever a list shows, the reel's own page shows too.
                assert all(
                    can_see_reel(
                        reel,
                        viewer,
                        viewer_follows_creator=follows,
                        blocked_either_way=False,
                        creator_suspended=reel.creator_id in suspended,
                    )
                    for reel in reels
                    if reel.id in listed
                )

    run(api, compare)


def test_lists_show_only_reels_their_own_page_shows(api: Api) -> None:
    maker_token, maker = api.register("maker")
    _every_kind_of_reel(api, maker)
    every_reel = set()

    async def all_ids() -> None:
        async with platform_of(api).sessions() as session:
            every_reel.update((await session.scalars(select(Reel.id))).all())

    run(api, all_ids)
    follower, _ = api.register("follower")
    api.data(FOLLOW, {"id": maker["id"]}, token=follower)
    stranger, _ = api.register("stranger")
    blocked, _ = api.register("blocked")
    api.data(BLOCK, {"id": maker["id"]}, token=blocked)
    moderator, moderator_user = api.register("moderator")
    _set(api, User, db_id(moderator_user["id"]), role=Role.MODERATOR)

    def listed(token: str | None) -> set[int]:
        user = api.data(USER_REELS, token=token)["user"]
        return {db_id(edge["node"]["id"]) for edge in user["reels"]["edges"]} if user else set()

    def opened(token: str | None) -> set[int]:
        ids = sorted(every_reel)
        found: set[int] = set()
        for start in range(0, len(ids), 20):  # within the alias limit
            chunk = ids[start : start + 20]
            query = (
                "query { "
                + " ".join(f'r{n}: reel(id: "{to_global_id("Reel", i)}") {{ id }}' for n, i in enumerate(chunk))
                + " }"
            )
            found.update(db_id(reel["id"]) for reel in api.data(query, token=token).values() if reel is not None)
        return found

    ready = {ReelStatus.READY}
    for token, expected_visibilities in [
        (None, {Visibility.PUBLIC}),
        (stranger, {Visibility.PUBLIC}),
        (follower, {Visibility.PUBLIC, Visibility.FOLLOWERS}),
        (moderator, {Visibility.PUBLIC}),
    ]:
        shown = listed(token)
        assert shown == _ids(api, ready, expected_visibilities)
        assert shown <= opened(token)
    assert listed(blocked) == set() and opened(blocked) == set()
    # Its creator is listed every reel not deleted, whatever its status.
    assert listed(maker_token) == opened(maker_token) == _ids(api, set(ReelStatus), set(Visibility))
    # Moderators open any reel not deleted (to review it), though lists keep to the rule.
    assert opened(moderator) == _ids(api, set(ReelStatus), set(Visibility))


def _ids(api: Api, statuses: set[ReelStatus], visibilities: set[Visibility]) -> set[int]:
    async def read() -> set[int]:
        async with platform_of(api).sessions() as session:
            query = select(Reel.id).where(
                Reel.status.in_(statuses), Reel.visibility.in_(visibilities), Reel.deleted_at.is_(None)
            )
            return set((await session.scalars(query)).all())

    return run(api, read)
