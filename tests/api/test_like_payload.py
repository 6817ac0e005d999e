"""likeReel's payload reflects the like at once: the count includes it and viewerHasLiked is true,
before the aggregator has flushed (no workers run here, so the stored count stays behind)."""

from __future__ import annotations

from tests.conftest import Api, db_id, insert_ready_reel, platform_of, run

LIKE = "mutation L($id: ID!) { likeReel(input: {reelId: $id}) { reel { viewerHasLiked counts { likes } } userErrors { code } } }"
UNLIKE = "mutation U($id: ID!) { unlikeReel(input: {reelId: $id}) { reel { viewerHasLiked counts { likes } } userErrors { code } } }"


def test_like_and_unlike_payloads_show_the_action(api: Api) -> None:
    _, creator = api.register("painter")
    reel = insert_ready_reel(api, creator["id"])
    fan, _ = api.register("patron")

    liked = api.data(LIKE, {"id": reel}, token=fan)["likeReel"]
    assert liked == {"reel": {"viewerHasLiked": True, "counts": {"likes": 1}}, "userErrors": []}

    unliked = api.data(UNLIKE, {"id": reel}, token=fan)["unlikeReel"]
    assert unliked == {"reel": {"viewerHasLiked": False, "counts": {"likes": 0}}, "userErrors": []}


def test_one_document_of_likes_shows_each_change_where_its_counts_are_read(api: Api) -> None:
    """Mutation fields run in order: a payload shows the likes of the fields before it too,
    whether or not those selected counts."""
    _, creator = api.register("sculptor")
    reel = insert_ready_reel(api, creator["id"])
    _store_likes(api, reel, 3)  # as the aggregator last flushed them
    fan, _ = api.register("collector")
    document = """mutation M($id: ID!) {
      liked: likeReel(input: {reelId: $id}) { userErrors { code } }
      unliked: unlikeReel(input: {reelId: $id}) { userErrors { code } }
      shared: shareReel(input: {reelId: $id}) { reel { counts { likes } } }
      again: likeReel(input: {reelId: $id}) { reel { viewerHasLiked counts { likes } } }
      twice: likeReel(input: {reelId: $id}) { reel { counts { likes } } }
      undone: unlikeReel(input: {reelId: $id}) { reel { viewerHasLiked counts { likes } } }
    }"""
    answer = api.data(document, {"id": reel}, token=fan)
    assert answer["shared"]["reel"] == {"counts": {"likes": 3}}
    assert answer["again"]["reel"] == {"viewerHasLiked": True, "counts": {"likes": 4}}
    assert answer["twice"]["reel"] == {"counts": {"likes": 4}}
    assert answer["undone"]["reel"] == {"viewerHasLiked": False, "counts": {"likes": 3}}


def _store_likes(api: Api, reel: str, likes: int) -> None:
    from reels.domain.models import ReelCounts

    async def store() -> None:
        async with platform_of(api).sessions() as session:
            session.add(ReelCounts(reel_id=db_id(reel), likes=likes))
            await session.commit()

    run(api, store)
