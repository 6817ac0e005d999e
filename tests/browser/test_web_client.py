"""The web client at `/`, used as people use it: the feed plays, a like on one screen shows up
live on another, an upload from the page becomes a playing reel (and resumes after a reload),
a reel a moderator blocks leaves the feed, every page renders at phone width, and the For You
feed pages through its session, says why each reel is there and drops one marked "not
interested" for good."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import PHONE, Server, screenshot, wait_for

REPORT = """mutation Report($input: ReportReelInput!) { reportReel(input: $input) { userErrors { message } } }"""
VIEWS = "query Views($id: ID!) { reel(id: $id) { counts { views } } }"
STARTUP = "query Startup($id: ID!) { reel(id: $id) { playback { startupInitUrl startupSegmentUrl } } }"
PLAYING_S = 1.0

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def creator(server: Server) -> str:
    return server.register("creator")


@pytest.fixture(scope="module")
def reels(server: Server, creator: str, clip: Path) -> list[str]:
    """Three READY reels, oldest first."""
    return [server.upload(creator, clip, f"reel number {n} #browsertest") for n in range(3)]


def reel_selector(reel_id: str) -> str:
    return f"article.reel[data-reel-id='{reel_id}']"


def wait_until_playing(page: Any, selector: str) -> None:
    """The video's currentTime advances: it is really playing, not just loaded."""
    page.wait_for_function(
        "([s, t]) => { const v = document.querySelector(s); return v && !v.paused && v.currentTime > t; }",
        arg=[f"{selector} video", PLAYING_S],
        timeout=60_000,
    )


def test_the_feed_plays_its_reels_and_counts_a_view(
    server: Server, reels: list[str], new_page: Callable[..., Any]
) -> None:
    page = new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(urlsplit(request.url).path))

    page.goto("/")
    page.wait_for_selector("article.reel video")
    shown = page.eval_on_selector_all("article.reel", "reels => reels.map(r => r.dataset.reelId)")
    assert set(reels) <= set(shown)
    first = shown[0]
    wait_until_playing(page, reel_selector(first))
    assert page.evaluate("document.querySelector('article.reel video').muted"), "muted until the first tap"
    screenshot(page, "feed")

    # The next two reels' first segments (and their init sections) were fetched ahead
    for upcoming in shown[1:3]:
        playback = server.graphql(STARTUP, {"id": upcoming})["reel"]["playback"]
        for url in (playback["startupInitUrl"], playback["startupSegmentUrl"]):
            assert urlsplit(url).path in requested, (upcoming, url)

    # Past 3 s of watching, the view is recorded and counted
    wait_for(lambda: server.graphql(VIEWS, {"id": first})["reel"]["counts"]["views"] >= 1, "the view is counted")

    # The arrow key moves to the next reel, which plays
    page.locator(reel_selector(first)).focus()
    page.keyboard.press("ArrowDown")
    second = page.locator("article.reel").nth(1).get_attribute("data-reel-id")
    wait_until_playing(page, reel_selector(second))
    assert page.evaluate(f'document.querySelector("{reel_selector(first)} video").paused')

    phone = new_page(viewport=PHONE)
    phone.goto("/")
    wait_until_playing(phone, "article.reel")
    screenshot(phone, "feed-phone")


def count_of(page: Any, reel_id: str, name: str) -> int:
    return int(page.get_attribute(f"{reel_selector(reel_id)} [data-count={name}]", "aria-label").split()[0])


def wait_for_count(page: Any, reel_id: str, name: str, expected: int) -> None:
    page.wait_for_function(
        "([s, label]) => document.querySelector(s).getAttribute('aria-label') === label",
        arg=[f"{reel_selector(reel_id)} [data-count={name}]", f"{expected} {name}"],
        timeout=30_000,
    )


def test_likes_and_comments_on_one_screen_update_the_counts_on_another_live(
    server: Server, reels: list[str], new_page: Callable[..., Any]
) -> None:
    reel = reels[0]
    liker = new_page(token=server.register("liker"))
    watcher = new_page(viewport=PHONE, token=server.register("watcher"))
    for page in (liker, watcher):
        page.goto(f"/#/reel/{reel}")
        page.wait_for_selector(f"{reel_selector(reel)} [data-count=likes]")
    likes, comments = count_of(watcher, reel, "likes"), count_of(watcher, reel, "comments")

    liker.click(f"{reel_selector(reel)} button.like")
    wait_for_count(watcher, reel, "likes", likes + 1)
    assert liker.get_attribute(f"{reel_selector(reel)} button.like", "aria-pressed") == "true"
    screenshot(watcher, "reel-phone")

    liker.click(f"{reel_selector(reel)} button.comment")
    liker.get_by_label("Add a comment").fill("first!")
    liker.get_by_role("button", name="Post").click()
    liker.locator("dialog .comments li", has_text="first!").wait_for()
    wait_for_count(watcher, reel, "comments", comments + 1)
    screenshot(liker, "comments")
    liker.keyboard.press("Escape")

    liker.click(f"{reel_selector(reel)} button.like")  # unlike
    wait_for_count(watcher, reel, "likes", likes)
    assert liker.get_attribute(f"{reel_selector(reel)} button.like", "aria-pressed") == "false"


def test_an_upload_from_the_page_becomes_a_reel_that_plays(
    server: Server, clip: Path, new_page: Callable[..., Any]
) -> None:
    page = new_page(token=server.register("uploader"))

    page.goto("/#/upload")
    page.set_input_files("input[type=file]", str(clip))
    page.fill("textarea[name=caption]", "made in the browser #browsertest")
    page.click("form.upload-form button[type=submit]")

    page.wait_for_selector(".upload-status[data-status=READY]", timeout=120_000)
    assert page.evaluate("document.querySelector('progress').value") == 1
    wait_until_playing(page, ".upload-player article.reel")
    assert page.evaluate("localStorage.getItem('reels.upload')") is None, "nothing left to resume"
    screenshot(page, "upload")


def test_an_upload_interrupted_by_a_reload_resumes_with_the_parts_still_missing(
    server: Server, two_part_clip: Path, new_page: Callable[..., Any]
) -> None:
    page = new_page(token=server.register("resumer"))
    sent_parts: list[str] = []

    def note_part(request: Any) -> None:
        if request.method == "PUT":
            sent_parts.append(request.url.split("?")[0].rsplit("/", 1)[1])

    page.on("request", note_part)

    # Given an upload whose second part never arrives (the page is closed in the middle)
    def second_part_lost(route: Any) -> None:
        if route.request.url.split("?")[0].endswith("/2"):
            route.abort()
        else:
            route.continue_()

    page.route("**/media-upload/**", second_part_lost)
    page.goto("/#/upload")
    page.set_input_files("input[type=file]", str(two_part_clip))
    page.click("form.upload-form button[type=submit]")
    page.get_by_role("alert").wait_for()
    assert sent_parts == ["1", "2"]
    page.unroute("**/media-upload/**")

    # When the page is loaded again and the same file picked
    page.reload()
    page.get_by_text("was interrupted: pick the same file to resume it").wait_for()
    page.set_input_files("input[type=file]", str(two_part_clip))
    page.click("form.upload-form button[type=submit]")

    # Then only the missing part is sent, and the reel becomes READY
    page.wait_for_selector(".upload-status[data-status=READY]", timeout=120_000)
    assert sent_parts == ["1", "2", "2"]
    assert page.evaluate("localStorage.getItem('reels.upload')") is None


def test_a_reel_the_moderator_blocks_leaves_the_feed(
    server: Server, reels: list[str], new_page: Callable[..., Any]
) -> None:
    blocked = reels[1]
    reporter = server.register("reporter")
    report = server.graphql(
        REPORT, {"input": {"reelId": blocked, "reason": "SPAM", "details": "posted ten times"}}, reporter
    )
    assert report["reportReel"]["userErrors"] == []
    viewer = new_page()
    viewer.goto("/")
    viewer.wait_for_selector(reel_selector(blocked), state="attached")

    moderator = new_page(token=server.register("moderator", role="MODERATOR"))
    moderator.goto("/#/moderation")
    row = moderator.locator(f".report[data-reel-id='{blocked}']")
    row.wait_for()
    screenshot(moderator, "moderation")
    row.get_by_role("button", name="Block").click()
    row.get_by_text("Blocked", exact=True).wait_for()
    assert row.locator(".reel-status").inner_text() == "BLOCKED"

    viewer.reload()
    viewer.wait_for_selector("article.reel", state="attached")
    shown = viewer.eval_on_selector_all("article.reel", "reels => reels.map(r => r.dataset.reelId)")
    assert blocked not in shown and set(shown) >= set(reels) - {blocked}


def test_every_page_renders_at_phone_width(server: Server, reels: list[str], new_page: Callable[..., Any]) -> None:
    page = new_page(viewport=PHONE, token=server.register("visitor"))
    audio = server.graphql("query A($id: ID!) { reel(id: $id) { audio { id } } }", {"id": reels[0]})["reel"]["audio"]
    # name: (path, its heading, what it shows once loaded)
    pages = {
        "profile": ("/#/u/creator", "creator", ".grid li a[href^='#/reel/']"),
        "hashtag": ("/#/tag/browsertest", "#browsertest", ".grid li a[href^='#/reel/']"),
        "search": ("/#/search?q=creator", "Search", ".results a[href='#/u/creator']"),
        "notifications": ("/#/notifications", "Notifications", "text=Nothing yet"),
        "upload-form": ("/#/upload", "Upload a reel", "form.upload-form input[type=file]"),
    }
    if audio:
        pages["sound"] = (f"/#/sound/{audio['id']}", "♫", ".grid li a[href^='#/reel/']")
    for name, (path, heading, content) in pages.items():
        page.goto(path)
        page.wait_for_selector(f"h1:has-text('{heading}')")
        page.wait_for_selector(content)
        page.wait_for_load_state("networkidle")
        screenshot(page, name)

    signed_out = new_page(viewport=PHONE)
    signed_out.goto("/#/sign-in")
    signed_out.fill("input[name=username]", "visitor")
    signed_out.fill("input[name=password]", "browser-test-password")
    screenshot(signed_out, "sign-in")
    signed_out.click("button[value=login]")
    signed_out.wait_for_selector("nav a.me:has-text('@visitor')")


def test_a_shared_link_opens_its_reel_and_the_inbox_holds_what_came_while_away(
    server: Server, creator: str, reels: list[str], new_page: Callable[..., Any]
) -> None:
    reel = reels[2]  # the moderation test blocks reels[1]
    share_url = server.graphql("query S($id: ID!) { reel(id: $id) { shareUrl } }", {"id": reel})["reel"]["shareUrl"]
    assert share_url == f"{server.url}/#/reel/{reel}"
    fan_token = server.register("sharer")
    friend = new_page(token=fan_token)
    friend.goto(share_url)
    wait_until_playing(friend, reel_selector(reel))
    assert friend.eval_on_selector_all("article.reel", "reels => reels.map(r => r.dataset.reelId)") == [reel]
    # Sharing from the page hands on that same link (copied where the browser has no share sheet).
    friend.context.grant_permissions(["clipboard-read", "clipboard-write"])
    friend.evaluate("delete Navigator.prototype.share")
    friend.click(f"{reel_selector(reel)} button.share")
    wait_for_count(friend, reel, "shares", 1)
    assert friend.evaluate("navigator.clipboard.readText()") == share_url

    # The creator had no page open: the like waits in the inbox, shown (and then read) on the page.
    friend.click(f"{reel_selector(reel)} button.like")
    creator_page = new_page(token=creator)
    creator_page.goto("/#/notifications")
    creator_page.locator("ol.notifications li.unread", has_text="@sharer liked your reel").wait_for()
    wait_for(
        lambda: (
            server.graphql("query { viewer { unreadNotificationCount } }", token=creator)["viewer"][
                "unreadNotificationCount"
            ]
            == 0
        ),
        "the notifications shown are marked read",
    )


FEED_PAGE = 2  # feed requests are cut to this size, so the module's few reels take several pages
REASON_WORDS = {"FOLLOWING": "From creators you follow", "SIMILAR": "Similar to reels you watched or liked",
                "TRENDING": "Trending now", "FRESH": "New: few people have seen it yet"}  # fmt: skip
EVERY_REEL = "query Every { trending(first: 50) { edges { node { id } } } }"
FEED_READ = """() => { const first = document.querySelector("article.reel");
  return first !== null && first.getAttribute("aria-setsize") !== "-1"; }"""


def shown_reels(page: Any) -> list[str]:
    return page.eval_on_selector_all("article.reel", "reels => reels.map(r => r.dataset.reelId)")


def test_not_interested_takes_a_reel_out_of_the_feed_for_good_and_why_this_reel_tells_the_reason(
    server: Server, reels: list[str], new_page: Callable[..., Any]
) -> None:
    token = server.register("picky")
    world = {edge["node"]["id"] for edge in server.graphql(EVERY_REEL, token=token)["trending"]["edges"]}
    # More than a page, and few enough that the client reads the whole session without scrolling.
    assert FEED_PAGE < len(world) <= 2 * FEED_PAGE + 1, world
    page = new_page(token=token)
    feeds: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (variables, feed) of each feed request

    def small_pages(route: Any) -> None:
        body = route.request.post_data_json
        if not (body and body["query"].startswith("query Feed")):
            route.continue_()
            return
        body["variables"]["first"] = FEED_PAGE
        response = route.fetch(post_data=json.dumps(body))
        feeds.append((body["variables"], response.json()["data"]["feed"]))
        route.fulfill(response=response)

    page.route("**/graphql", small_pages)
    page.goto("/")
    article = page.locator("article.reel").first
    article.wait_for()
    unwanted = article.get_attribute("data-reel-id")
    [reason] = [edge["reason"] for edge in feeds[0][1]["edges"] if edge["node"]["id"] == unwanted]

    # "Why this reel?" says where the reel came from, and its score
    article.get_by_role("button", name="Why this reel?").click()
    why = page.get_by_role("dialog", name="Why this reel?")
    assert why.locator(".reason").inner_text() == REASON_WORDS[reason["source"]]
    assert float(why.locator(".reason-score data").get_attribute("value")) == reason["score"]
    screenshot(page, "why-this-reel")
    page.keyboard.press("Escape")
    why.wait_for(state="detached")

    # "Not interested" takes the reel out, and the next one plays in its place with the focus
    article.get_by_role("button", name="Not interested").click()
    page.locator(reel_selector(unwanted)).wait_for(state="detached")
    following = page.locator("article.reel").first.get_attribute("data-reel-id")
    wait_until_playing(page, reel_selector(following))
    assert page.evaluate("document.activeElement.dataset.reelId") == following

    # The session pages on with `after` cursors to its end, never serving a reel twice
    page.wait_for_function(FEED_READ)
    for (_, previous), (variables, _) in zip(feeds, feeds[1:], strict=False):
        assert variables["after"] == previous["pageInfo"]["endCursor"]
    assert feeds[0][0]["after"] is None and len(feeds) >= 2
    served = [edge["node"]["id"] for _, feed in feeds for edge in feed["edges"]]
    assert sorted(served) == sorted(world)
    assert set(shown_reels(page)) == world - {unwanted}

    # A new session (pull to refresh) brings back every reel already served but the unwanted one
    feeds.clear()
    page.reload()
    page.wait_for_function(FEED_READ)
    served = [edge["node"]["id"] for _, feed in feeds for edge in feed["edges"]]
    assert unwanted not in served
    assert set(shown_reels(page)) == world - {unwanted}
