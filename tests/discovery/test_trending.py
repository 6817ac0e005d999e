"""trendingHashtags and trendingAudio: a hashtag used quickly trends, per region and globally;
below the minimum count, or on reels not everyone may see, it does not."""

from __future__ import annotations

from tests.conftest import Api
from tests.discovery.conftest import set_reel, sound_of, tagged_reel, unique

PROFILE = "mutation P($input: UpdateProfileInput!) { updateProfile(input: $input) { userErrors { code } } }"
HASHTAGS = """query T($region: String, $first: Int) {
  trendingHashtags(region: $region, first: $first) { hashtag { name reelCount } score uses24h }
}"""
AUDIO = "query T($region: String) { trendingAudio(region: $region) { audio { id title } score uses24h } }"


def creator_in(api: Api, region: str) -> tuple[str, str]:
    token, user = api.register(unique("maker"))
    assert api.data(PROFILE, {"input": {"region": region}}, token)["updateProfile"]["userErrors"] == []
    return token, user["id"]


def trends(api: Api, region: str | None = None) -> dict[str, dict]:
    found = api.data(HASHTAGS, {"region": region, "first": 100})["trendingHashtags"]
    return {trend["hashtag"]["name"]: trend for trend in found}


def test_a_hashtag_used_quickly_trends_in_its_region_and_globally(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = creator_in(api, "IN")
    other_token, other = creator_in(api, "BR")
    summer, winter, rare = unique("summer2026x"), unique("winter"), unique("rare")
    for n in range(4):
        tagged_reel(api, token, creator, f"day {n} #{summer.capitalize()} at the beach")
    for n in range(3):
        tagged_reel(api, other_token, other, f"cold #{winter} {n}")
    for n in range(2):  # under the minimum count
        tagged_reel(api, token, creator, f"#{rare} {n}")

    everywhere = trends(api)
    assert everywhere[summer]["uses24h"] == 4 and everywhere[winter]["uses24h"] == 3
    assert everywhere[summer]["score"] > everywhere[winter]["score"] > 0
    assert rare not in everywhere
    names = list(everywhere)
    assert names.index(summer) < names.index(winter)  # more uses, as recent: ranked higher

    india = trends(api, "in")  # regions are case-insensitive
    assert summer in india and winter not in india
    assert winter in trends(api, "BR") and summer not in trends(api, "BR")


def test_hidden_reels_never_count(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = creator_in(api, "DE")
    tag = unique("quiet")
    reels = [tagged_reel(api, token, creator, f"#{tag} {n}") for n in range(4)]
    set_reel(api, reels[0], status="HELD")
    set_reel(api, reels[1], visibility="PRIVATE")
    assert tag not in trends(api)  # two uses everyone may see: under the minimum

    blocked_tag = unique("gone")
    others = [tagged_reel(api, token, creator, f"#{blocked_tag} {n}") for n in range(3)]
    set_reel(api, others[0], status="BLOCKED")
    assert blocked_tag not in trends(api, "DE")


def test_trending_sounds_and_a_bad_region(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = creator_in(api, "JP")
    used = [tagged_reel(api, token, creator, f"dance {n}") for n in range(3)]
    sound = sound_of(api, creator, unique("Bounce "), used)
    once = sound_of(api, creator, unique("Lonely "), [tagged_reel(api, token, creator, "solo")])

    found = {trend["audio"]["id"]: trend for trend in api.data(AUDIO, {"region": "JP"})["trendingAudio"]}
    assert found[sound]["uses24h"] == 3 and found[sound]["score"] > 0
    assert once not in found
    assert sound not in {t["audio"]["id"] for t in api.data(AUDIO, {"region": "FR"})["trendingAudio"]}

    refused = api(HASHTAGS, {"region": "India!"})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID"
    assert "ISO 3166-1" in refused["errors"][0]["message"]
