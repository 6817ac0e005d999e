"""likeReel's payload reflects the like at once: the count includes it and viewerHasLiked is true,
before the aggregator has flushed (no workers run here, so the stored count stays behind)."""

from __future__ import annotations

from tests.conftest import Api, insert_ready_reel

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
