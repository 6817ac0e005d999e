"""The web client in a real browser: Debian's Chromium driven by Playwright (no browser
download), against the whole embedded platform (API, media routes, in-process workers) served
by uvicorn on a free loopback port, with reels made from real FFmpeg clips through the real
upload and transcoding pipeline.

Without Chromium or the playwright package the tests skip with the reason; under
REELS_REQUIRE_SERVICES=1 (CI) they fail instead. With REELS_SCREENSHOT_DIR set, each test
saves screenshots of the pages it visits there (docs/screenshots/ is made that way).
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from reels.http.app import create_app
from reels.ports.objectstore import MIN_PART_BYTES
from reels.settings import Settings
from tests.conftest import REGISTER
from tests.media.clips import H264, make, sine, testsrc
from tests.services import unavailable

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the test extra is not installed: the tests skip (or fail in CI)
    sync_playwright = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Muted autoplay is allowed anyway; this lets a test turn the sound on without a real tap.
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "browser-test-password"
READY_DEADLINE_S = 120.0
SCREENSHOT_DIR = os.environ.get("REELS_SCREENSHOT_DIR")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

CREATE = """mutation Create($input: CreateUploadInput!) { createUpload(input: $input) {
  reel { id } uploadId partSize parts { partNumber url } userErrors { message } } }"""
COMPLETE = """mutation Complete($input: CompleteUploadInput!) { completeUpload(input: $input) {
  reel { id } userErrors { message } } }"""
STATUS = "query Status($id: ID!) { reel(id: $id) { status statusReason } }"


@dataclass
class Server:
    url: str
    settings: Settings
    api: httpx.Client

    def graphql(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = self.api.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers).json()
        assert not body.get("errors"), body
        return body["data"]

    def register(self, username: str, role: str = "USER") -> str:
        payload = self.graphql(REGISTER, {"input": {"username": username, "password": PASSWORD}})["register"]
        assert payload["userErrors"] == [], payload
        if role != "USER":
            with sqlite3.connect(self.settings.data_dir / "reels.db") as db:
                db.execute("UPDATE users SET role = ? WHERE username = ?", (role, username))
        return payload["token"]

    def upload(self, token: str, clip: Path, caption: str) -> str:
        """A reel through the real pipeline, as a client sends it: the reel's id once READY."""
        data = clip.read_bytes()
        input_ = {"fileSize": len(data), "contentType": "video/mp4", "caption": caption}
        created = self.graphql(CREATE, {"input": input_}, token)["createUpload"]
        assert created["userErrors"] == [], created
        size = created["partSize"]
        parts = []
        for part in created["parts"]:
            number = part["partNumber"]
            sent = self.api.put(part["url"], content=data[(number - 1) * size : number * size])
            assert sent.status_code == 200, sent.text
            parts.append({"partNumber": number, "etag": sent.headers["etag"]})
        done = self.graphql(COMPLETE, {"input": {"uploadId": created["uploadId"], "parts": parts}}, token)
        assert done["completeUpload"]["userErrors"] == [], done
        reel_id: str = created["reel"]["id"]
        wait_for(lambda: self.graphql(STATUS, {"id": reel_id}, token)["reel"]["status"] == "READY", "the reel is READY")
        return reel_id


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = READY_DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def playwright_chromium() -> Iterator[Any]:
    """Chromium, launched once per module (each test opens its own contexts). Not once per
    session: Playwright's sync API keeps an event loop running in this thread while it is
    open, and every asyncio test after it would then fail to start its own."""
    if CHROMIUM is None:
        unavailable("Chromium is not installed (apt-get install -y chromium)")
    if sync_playwright is None:
        unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s portrait clip with a tone: long enough for the 3 s view, quick to transcode."""
    path = tmp_path_factory.mktemp("browser-clips") / "clip.mp4"
    make(*testsrc("360x640", 30, 4), *sine(440, 4), *H264, "-c:a", "aac", "-shortest", str(path))
    return path


@pytest.fixture(scope="session")
def two_part_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s clip of noise at a constant 14 Mb/s: over one 5 MiB part, so it uploads in two."""
    path = tmp_path_factory.mktemp("browser-clips") / "two_parts.mp4"
    make(
        "-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=4,noise=alls=60:allf=t", *sine(440, 4), *H264,
        "-b:v", "14M", "-minrate", "14M", "-maxrate", "14M", "-bufsize", "4M", "-x264-params", "nal-hrd=cbr",
        "-c:a", "aac", "-shortest", str(path),
    )  # fmt: skip
    assert MIN_PART_BYTES < path.stat().st_size < 2 * MIN_PART_BYTES
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[Server]:
    """The embedded platform on a loopback port. The socket listens before the server starts,
    so the browser's first request waits in its backlog instead of failing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    data_dir = tmp_path_factory.mktemp("browser") / "var"
    data_dir.mkdir()
    shutil.copy(migrated_sqlite, data_dir / "reels.db")
    settings = Settings(
        data_dir=data_dir,
        public_url=url,  # the media URLs the API hands out point here
        flush_interval_ms=100,
        upload_part_bytes=MIN_PART_BYTES,
        # every page of every test comes from one address
        requests_per_second=100_000,
        request_burst=100_000,
        registrations_per_hour=100_000,
    )
    app = create_app(settings)
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=url, timeout=30) as api:
            wait_for(lambda: api.get("/healthz").status_code == 200, "the server is healthy", 60)
            yield Server(url, settings, api)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@pytest.fixture
def new_page(playwright_chromium: Any, server: Server) -> Iterator[Callable[..., Any]]:
    """Pages in fresh browser contexts (separate localStorage, like separate people); the test
    fails on a script error or a request to anywhere but this server."""
    contexts: list[Any] = []
    problems: list[str] = []

    def open_page(viewport: dict[str, int] = DESKTOP, token: str | None = None) -> Any:
        context = playwright_chromium.new_context(viewport=viewport, base_url=server.url)
        contexts.append(context)

        # Noted, not intercepted: an interception waits for this thread, which would stall the
        # page's requests whenever the test waits on the server instead of on the browser.
        def only_this_server(request: Any) -> None:
            if not request.url.startswith((server.url, "data:", "blob:")):
                problems.append(f"outside request: {request.url}")

        context.on("request", only_this_server)
        if token:
            context.add_init_script(f"localStorage.setItem('reels.token', {token!r})")
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems == [], problems


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"))
