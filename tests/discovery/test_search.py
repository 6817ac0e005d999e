"""search(query:): a hashtag by prefix, a user by a misspelt name, a reel by a caption word, a
sound by a title word; ranked by match and popularity; hidden accounts and content never."""

from __future__ import annotations

from reels.domain.models import Role
from tests.conftest import Api, insert_ready_reel
from tests.discovery.conftest import set_counts, set_reel, set_user, sound_of, tagged_reel, unique

SEARCH = """query S($q: String!) { search(query: $q) {
  users(first: 10) { username } hashtags { name } audio { title } reels(first: 10) { id caption }
} }"""
PROFILE = "mutation P($input: UpdateProfileInput!) { updateProfile(input: $input) { userErrors { code } } }"
BLOCK = "mutation B($input: UserInput!) { blockUser(input: $input) { userErrors { code } } }"
SUSPEND = "mutation S($input: SuspendUserInput!) { suspendUser(input: $input) { userErrors { code } } }"


def search(api: Api, query: str, token: str | None = None) -> dict:
    return api.data(SEARCH, {"q": query}, token)["search"]


def usernames(api: Api, query: str, token: str | None = None) -> list[str]:
    return [user["username"] for user in search(api, query, token)["users"]]


def test_summ_finds_the_hashtag_and_a_caption_word_finds_the_reel(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = api.register(unique("beach"))
    word = unique("sandcastle")
    tag = unique("summer2026")
    reel = tagged_reel(api, token, creator["id"], f"Building a {word.capitalize()} today #{tag}")

    assert tag in [h["name"] for h in search(api, tag[:-3])["hashtags"]]  # "summer2026…" by its prefix
    assert tag in [h["name"] for h in search(api, "#" + tag[:8])["hashtags"]]
    found = search(api, word)["reels"]
    assert [r["id"] for r in found] == [reel]
    assert [r["id"] for r in search(api, f"building {word[:-2]}")["reels"]] == [reel]  # last word still typed
    assert [r["id"] for r in search(api, tag)["reels"]] == [reel]  # the hashtag is a caption word too
    assert search(api, f"{word} nowhere")["reels"] == []  # every word must match


def test_a_misspelt_username_finds_the_user(discovery_api: Api) -> None:
    api = discovery_api
    name = unique("marguerite")
    api.register(name)
    token, _ = api.register(unique("lookup"))
    assert usernames(api, name) == [name]
    typo = name[:2] + name[3] + name[2] + name[4:]  # "amrguerite…": two letters swapped
    assert name in usernames(api, typo)
    assert name in usernames(api, name[:7].replace("g", "q"))  # a typo while typing the start
    assert name in usernames(api, "@" + name[:5])
    assert name not in usernames(api, "zzzzzzzz")


def test_display_names_match_by_prefix_and_typo(discovery_api: Api) -> None:
    api = discovery_api
    token, user = api.register(unique("dn"))
    last = unique("Quixotel")
    assert api.data(PROFILE, {"input": {"displayName": f"Ada {last}"}}, token)["updateProfile"]["userErrors"] == []
    assert user["username"] in usernames(api, last[:6].lower())
    assert user["username"] in usernames(api, last[0] + last[2] + last[1] + last[3:])


def test_better_matches_and_more_popular_reels_rank_first(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = api.register(unique("ranker"))
    word = unique("lantern")
    quiet = tagged_reel(api, token, creator["id"], f"a {word} at night")
    loved = tagged_reel(api, token, creator["id"], f"the {word} festival")
    prefix_only = tagged_reel(api, token, creator["id"], f"{word}s everywhere")
    set_counts(api, loved, likes=50, views=400)
    set_counts(api, prefix_only, likes=1000, views=9000)
    ranked = [r["id"] for r in search(api, word)["reels"]]
    # Whole-word matches before a prefix match however popular it is; then the more popular.
    assert ranked == [loved, quiet, prefix_only]

    exact = unique("tessa")
    api.register(exact)
    api.register(exact + "ract")
    assert usernames(api, exact)[0] == exact


def test_sounds_by_title_words(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = api.register(unique("dj"))
    word = unique("thunder")
    sound_of(api, creator["id"], f"Rolling {word.capitalize()} Remix", [tagged_reel(api, token, creator["id"], "x")])
    sound_of(api, creator["id"], "Rolling hills", [tagged_reel(api, token, creator["id"], "y")])
    assert [a["title"] for a in search(api, f"remix {word}")["audio"]] == [f"Rolling {word.capitalize()} Remix"]
    assert [a["title"] for a in search(api, f"rolling {word[:5]}")["audio"]] == [f"Rolling {word.capitalize()} Remix"]


def test_hidden_accounts_and_content_never_appear(discovery_api: Api) -> None:
    api = discovery_api
    viewer_token, viewer = api.register(unique("viewer"))
    token, creator = api.register(unique("hider"))
    word = unique("secretword")
    private = tagged_reel(api, token, creator["id"], f"{word} private #{word}")
    set_reel(api, private, visibility="PRIVATE")
    held = insert_ready_reel(api, creator["id"], caption=f"{word} held")
    set_reel(api, held, status="HELD")
    blocked = insert_ready_reel(api, creator["id"], caption=f"{word} blocked")
    set_reel(api, blocked, status="BLOCKED")
    sound_of(api, creator["id"], f"{word} theme", [private])

    for who in (None, viewer_token):
        found = search(api, word, who)
        assert found["reels"] == [] and found["hashtags"] == [] and found["audio"] == []
    # The creator finds their own private reel; held and blocked ones are READY for no one.
    assert [r["id"] for r in search(api, word, token)["reels"]] == [private]

    # A creator blocked either way: neither they nor their reels appear to the other.
    listed = tagged_reel(api, token, creator["id"], f"{word} public")
    assert [r["id"] for r in search(api, word, viewer_token)["reels"]] == [listed]
    assert api.data(BLOCK, {"input": {"userId": creator["id"]}}, viewer_token)["blockUser"]["userErrors"] == []
    assert search(api, word, viewer_token)["reels"] == []
    assert creator["username"] not in usernames(api, creator["username"], viewer_token)
    assert viewer["username"] not in usernames(api, viewer["username"], token)

    # A suspended account is found by no one, nor are its reels.
    mod_token, mod = api.register(unique("mod"))
    set_user(api, mod["id"], role=Role.MODERATOR)
    suspended = api.data(SUSPEND, {"input": {"userId": creator["id"], "reason": "spam"}}, mod_token)
    assert suspended["suspendUser"]["userErrors"] == []
    assert creator["username"] not in usernames(api, creator["username"])
    assert search(api, word)["reels"] == []


def test_odd_queries_are_answered_not_failed(discovery_api: Api) -> None:
    api = discovery_api
    token, creator = api.register(unique("odd"))
    tagged_reel(api, token, creator["id"], 'quotes "and" stars * and NEAR(x y)')
    for query in ('"', '"*', "* OR", "NEAR(a b)", "a:b", "' & !", "%_\\", "été", "x" * 500, "  ", "@", "#"):
        found = api(SEARCH, {"q": query})
        assert "errors" not in found, (query, found)
    assert search(api, "NEAR stars")["reels"] != []


def test_a_slip_while_typing_any_word_of_a_display_name_finds_the_user(discovery_api: Api) -> None:
    api = discovery_api
    token, user = api.register(unique("dw"))
    last = unique("bramblewort")
    assert (
        api.data(PROFILE, {"input": {"displayName": f"Zed {last.title()}"}}, token)["updateProfile"]["userErrors"] == []
    )
    assert user["username"] in usernames(api, last[:4])  # the start of the second word
    assert user["username"] in usernames(api, "bremb")  # a wrong letter in the first five
    assert user["username"] in usernames(api, "brmblew")  # a letter left out
    assert user["username"] in usernames(api, last[:6] + "x" + last[6:])  # an extra letter in the whole word
    assert user["username"] not in usernames(api, "bxyzzle")


def test_a_new_display_name_replaces_the_old_one_in_typo_matching(discovery_api: Api) -> None:
    api = discovery_api
    token, user = api.register(unique("renamed"))
    old, new = unique("quillfeather"), unique("thistledown")

    def rename(display_name: str) -> None:
        payload = api.data(PROFILE, {"input": {"displayName": display_name}}, token)["updateProfile"]
        assert payload["userErrors"] == []

    rename(f"Ivy {old.title()}")
    assert user["username"] in usernames(api, "qiullfe")  # two letters swapped
    rename(f"Ivy {new.title()}")
    assert user["username"] not in usernames(api, "qiullfe")
    assert user["username"] not in usernames(api, old)
    assert user["username"] in usernames(api, "thistlo")  # the last letter typed wrong
    assert user["username"] in usernames(api, new[:2] + new[3] + new[2] + new[4:])
