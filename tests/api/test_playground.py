"""The playground at /graphql works offline: the page and every file it loads come from this
server, its example tabs cover every area of the API and are valid operations of the served
schema, and (in a real browser, when Chromium is installed) the editor renders with every
outside request blocked and a subscription runs as the user signed in from the page."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_client_schema,
    get_introspection_query,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from reels.http.app import create_app
from reels.settings import Settings
from tests.conftest import REGISTER, Api

CHROMIUM = shutil.which("chromium")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class PageLinks(HTMLParser):
    """The URLs a page makes the browser fetch, and the JSON of its example tabs."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tabs_json = ""
        self._in_tabs = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href"):
            if attributes.get(name):
                self.urls.append(attributes[name] or "")
        self._in_tabs = tag == "script" and attributes.get("id") == "playground-tabs"

    def handle_data(self, data: str) -> None:
        if self._in_tabs:
            self.tabs_json += data

    def handle_endtag(self, tag: str) -> None:
        self._in_tabs = False


def playground(api: Api) -> PageLinks:
    response = api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    links = PageLinks()
    links.feed(response.text)
    return links


def served_schema(api: Api) -> GraphQLSchema:
    return build_client_schema(api.data(get_introspection_query()))  # type: ignore[arg-type]


def operations(tabs: list[dict[str, Any]]) -> Iterator[tuple[OperationDefinitionNode, dict[str, Any]]]:
    for tab in tabs:
        for definition in parse(tab["query"]).definitions:
            assert isinstance(definition, OperationDefinitionNode)
            yield definition, tab["variables"]


def test_the_page_loads_nothing_from_another_host(api: Api) -> None:
    response = api.client.get("/graphql", headers={"Accept": "text/html"})
    links = playground(api)

    assert links.urls, "the page references its scripts and styles"
    for url in links.urls:
        parts = urlsplit(url)
        assert parts.scheme in ("", "data") and not parts.netloc and not url.startswith("//"), url
    assert "http://" not in response.text and "https://" not in response.text
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy


def test_every_file_the_page_references_is_served_with_its_type(api: Api) -> None:
    expected_types = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",)}
    local = [url for url in playground(api).urls if not url.startswith("data:")]

    assert {Path(urlsplit(url).path).suffix for url in local} == {".js", ".css"}
    for url in local:
        response = api.client.get(url)
        assert response.status_code == 200, url
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in expected_types[Path(url).suffix], (url, media_type)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content, url
        if "/graphiql/" in url:  # vendored, in folders named by version
            assert "immutable" in response.headers["cache-control"], url
        else:
            assert response.headers["cache-control"] == "no-cache", url


def test_the_vendored_files_ship_their_versions_and_licences(api: Api) -> None:
    vendored = api.client.get("/static/graphiql/VENDORED.md")

    assert vendored.status_code == 200
    for package in ("react | 18.2.0", "react-dom | 18.2.0", "graphiql | 3.8.3", "@graphiql/plugin-explorer | 1.0.2"):
        assert package in vendored.text
    assert "Permission is hereby granted" in vendored.text


def test_the_example_tabs_cover_every_area_of_the_api(api: Api) -> None:
    tabs = json.loads(playground(api).tabs_json)
    root_fields = {
        selection.name.value  # type: ignore[attr-defined]
        for operation, _ in operations(tabs)
        for selection in operation.selection_set.selections
    }

    assert {
        "feed",
        "createUpload",
        "completeUpload",
        "likeReel",
        "addComment",
        "reelCounts",
        "notifications",
        "reports",
        "moderateReel",
    } <= root_fields


def test_every_example_operation_is_valid_against_the_served_schema(api: Api) -> None:
    schema = served_schema(api)
    tabs = json.loads(playground(api).tabs_json)

    for tab in tabs:
        assert validate(schema, parse(tab["query"])) == [], tab["query"]
    for operation, variables in operations(tabs):
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
        assert not isinstance(coerced, list), (operation.name.value if operation.name else "?", coerced)  # errors


def test_every_example_query_and_mutation_runs_within_the_api_limits(api: Api) -> None:
    token, _ = api.register("tryer")
    tabs = json.loads(playground(api).tabs_json)

    for tab in tabs:
        for operation, variables in operations([tab]):
            assert operation.name is not None, "GraphiQL titles each tab by its first operation's name"
            if operation.operation == OperationType.SUBSCRIPTION:
                continue  # served over the websocket only (the browser test runs one)
            body = api.client.post(
                "/graphql",
                json={"query": tab["query"], "operationName": operation.name.value, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            # A plain user may be refused the moderators' operations; nothing else may fail.
            codes = {(error.get("extensions") or {}).get("code") for error in body.get("errors", [])}
            assert codes <= {"FORBIDDEN"}, (operation.name.value, body["errors"])


# -- in a real browser -------------------------------------------------------------------------


@pytest.fixture
def live_server(embedded_settings: Settings) -> Iterator[str]:
    """The app on a loopback port, served by uvicorn in a thread. The socket is listening before
    the server starts, so the browser's first request waits in its backlog instead of failing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(embedded_settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def register(client: httpx.Client, username: str) -> tuple[str, str]:
    body = client.post(
        "/graphql", json={"query": REGISTER, "variables": {"input": {"username": username, "password": "pw-" * 4}}}
    ).json()
    payload = body["data"]["register"]
    assert payload["userErrors"] == [], payload
    return payload["token"], payload["user"]["id"]


FOLLOW = "mutation Follow($input: UserInput!) { follow(input: $input) { userErrors { message } } }"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")
def test_the_playground_renders_offline_and_runs_a_subscription_as_the_signed_in_user(live_server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    outside: list[str] = []
    page_errors: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with httpx.Client(base_url=live_server, timeout=30) as client, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context()
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            sent_frames: list[str] = []
            page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent_frames.append(str(frame))))
            introspections = 0

            def count_introspection(request: Any) -> None:
                nonlocal introspections
                introspections += "IntrospectionQuery" in (request.post_data or "")

            page.on("request", count_introspection)

            # Given the playground, loaded with every request off this machine blocked
            page.goto(f"{live_server}/graphql")
            page.wait_for_selector(".graphiql-query-editor .CodeMirror")
            tab_titles = page.locator(".graphiql-tab").all_inner_texts()
            assert {"Feed", "CreateUpload", "ReelCounts", "Notifications", "ReportReel"} <= set(tab_titles)
            first_variables = page.evaluate(
                "document.querySelector('.graphiql-editor-tool .CodeMirror').CodeMirror.getValue()"
            )
            assert '"first": 10' in first_variables, "the first tab opens with its variables"
            page.click("button[aria-label='Show GraphiQL Explorer']")
            page.wait_for_selector(".graphiql-explorer-root")  # the explorer plugin loaded too

            # When ana creates her account from the bar, signs out, signs in again
            for action in ("register", "login"):
                page.fill("input[name=username]", "ana")
                page.fill("input[name=password]", "pw-" * 4)
                page.click(f"#sign-in button[value={action}]")
                page.wait_for_selector("#signed-in:not([hidden])")
                assert page.inner_text("#viewer-name") == "ana (USER)"
                if action == "register":
                    page.click("#sign-out")
                    page.wait_for_selector("#sign-in:not([hidden])")
            assert page.locator(".graphiql-tab").all_inner_texts() == tab_titles, "signing in keeps the tabs"
            # and runs the Notifications subscription
            page.locator(".graphiql-tab", has_text="Notifications").click()
            # (signing in and out changed the token the fetcher sends, not the fetcher: GraphiQL
            # fetched the schema once and did not re-render, so the one click on Run is taken)
            assert introspections == 1, introspections
            # The Feed tab holds two operations, so its Run button opens a menu to pick one; GraphiQL
            # parses the new tab's text a moment after the switch, and a click before that opens
            # the old tab's menu, which the re-render then closes. Wait for the single-operation
            # button, as a person sees it before clicking.
            page.wait_for_selector(".graphiql-execute-button:not([aria-haspopup])")
            page.click(".graphiql-execute-button")
            page.wait_for_selector(".graphiql-execute-button[aria-label^='Stop']")

            # and people follow her (one more each round, until the first event arrives: the
            # socket's subscribe has no acknowledgement to wait for)
            ana_id = client.post("/graphql", json={"query": '{ user(username: "ana") { id } }'}).json()
            ana_id = ana_id["data"]["user"]["id"]
            for follower in range(5):
                token, _ = register(client, f"fan{follower}")
                followed = client.post(
                    "/graphql",
                    json={"query": FOLLOW, "variables": {"input": {"userId": ana_id}}},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()
                assert followed["data"]["follow"]["userErrors"] == []
                try:
                    page.wait_for_function(
                        "() => document.querySelector('.result-window').innerText.includes('FOLLOWED')",
                        timeout=3_000,
                    )
                    break
                except sync_api.TimeoutError:
                    continue

            # Then her notification arrives over the page's socket, which carried her token
            result = page.inner_text(".result-window")
            assert '"kind": "FOLLOWED"' in result, result
            assert any('"connection_init"' in frame and '"token"' in frame for frame in sent_frames), sent_frames
            assert outside == [], outside
            assert page_errors == [], page_errors
        finally:
            browser.close()
