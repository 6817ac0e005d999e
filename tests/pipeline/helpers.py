"""What the pipeline tests do the way a client does: upload in parts, poll, follow playlists."""

from __future__ import annotations

import io
import itertools
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.media.ladder import parse_media_playlist
from reels.settings import Settings
from tests.conftest import LOCAL_CLIENT, Api

SECRET = "pipeline-test-secret-" + "s" * 32
DEADLINE_S = 90.0
FINAL = {"READY", "FAILED", "BLOCKED", "HELD"}
_names = itertools.count(1)


@dataclass(frozen=True)
class Clips:
    two_parts: Path  # 4 s 360×640 noise at 14 Mb/s with a 440 Hz tone: more than one 5 MiB part
    small: Path  # 2 s 360×640 with a 660 Hz tone
    silent: Path  # 2 s 360×640, no audio
    random_bytes: Path
    truncated: Path
    audio_only: Path
    too_long: Path  # 95 s


@dataclass(frozen=True)
class Stack:
    kind: str  # "embedded" or "services"
    settings: Settings


def unique(name: str) -> str:
    """A username no other test of the session has (the PostgreSQL database is shared)."""
    return f"{name}_{next(_names)}_{time.monotonic_ns() % 100_000}"


@contextmanager
def running(settings: Settings, *, workers: bool = True) -> Iterator[Api]:
    """The app with its lifespan (and, with `workers`, the media workers in-process)."""
    with TestClient(create_app(settings, run_workers=workers), client=LOCAL_CLIENT) as client:
        yield Api(client)


def call(api: Api, function: Callable[..., Any], *args: Any) -> Any:
    """Run `function(platform, *args)` (a coroutine function) in the app's event loop."""
    platform = api.client.app.state.platform
    return api.client.portal.call(function, platform, *args)


CREATE = """
mutation Create($input: CreateUploadInput!) {
  createUpload(input: $input) {
    reel { id status } uploadId partSize parts { partNumber url } userErrors { field message code }
  }
}"""
RESUME = """
mutation Resume($input: ResumeUploadInput!) {
  resumeUpload(input: $input) { uploadId missingParts { partNumber url } userErrors { field message code } }
}"""
COMPLETE = """
mutation Complete($input: CompleteUploadInput!) {
  completeUpload(input: $input) { reel { id status } userErrors { field message code } }
}"""
DELETE = """
mutation Delete($input: ReelInput!) { deleteReel(input: $input) { reel { id } userErrors { field message code } } }
"""
REEL = """
query Reel($id: ID!) {
  reel(id: $id) {
    id status statusReason durationMs thumbnailUrl
    audio { id title useCount }
    playback { hlsUrl startupSegmentUrl startupInitUrl previewUrl renditions { width height bandwidth playlistUrl } }
  }
}"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on Reel { status } } }"
USER_REELS = (
    "query Reels($name: String!) { user(username: $name) { reels(first: 20) { edges { node { id status } } } } }"
)


def create_upload(api: Api, token: str, size: int, content_type: str = "video/mp4", **extra: Any) -> dict[str, Any]:
    payload = api.data(CREATE, {"input": {"fileSize": size, "contentType": content_type, **extra}}, token)
    return payload["createUpload"]


def fetch(api: Api, url: str) -> bytes:
    """GET a media URL: the app's own routes through the test client, the rest (S3) over HTTP."""
    response = _client_for(api, url).get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return response.content


def put_part(api: Api, url: str, data: bytes) -> str:
    response = _client_for(api, url).put(url, content=data)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return response.headers["etag"]


def _client_for(api: Api, url: str) -> Any:
    public_url = api.client.app.state.platform.settings.public_url
    return api.client if url.startswith(public_url) else httpx


def send_parts(api: Api, path: Path, part_size: int, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PUT the given parts of `path`; the completedParts for completeUpload."""
    data = path.read_bytes()
    return [
        {
            "partNumber": part["partNumber"],
            "etag": put_part(api, part["url"], _slice(data, part_size, part["partNumber"])),
        }
        for part in parts
    ]


def _slice(data: bytes, part_size: int, number: int) -> bytes:
    return data[(number - 1) * part_size : number * part_size]


def upload(api: Api, token: str, path: Path, **extra: Any) -> str:
    """createUpload, every part, completeUpload: the reel's id."""
    started = create_upload(api, token, path.stat().st_size, **extra)
    assert started["userErrors"] == [], started
    assert len(started["parts"]) == math.ceil(path.stat().st_size / started["partSize"])
    completed = send_parts(api, path, started["partSize"], started["parts"])
    done = api.data(COMPLETE, {"input": {"uploadId": started["uploadId"], "parts": completed}}, token)
    assert done["completeUpload"]["userErrors"] == [], done
    return started["reel"]["id"]


def reel(api: Api, reel_id: str, token: str | None) -> dict[str, Any] | None:
    return api.data(REEL, {"id": reel_id}, token)["reel"]


def wait_for(api: Api, reel_id: str, token: str, statuses: set[str], deadline_s: float = DEADLINE_S) -> dict[str, Any]:
    """Poll the reel (as its creator) until its status is one of `statuses`."""
    deadline = time.monotonic() + deadline_s
    while True:
        current = reel(api, reel_id, token)
        assert current is not None
        if current["status"] in statuses:
            return current
        assert current["status"] not in FINAL, current
        assert time.monotonic() < deadline, f"reel still {current['status']} after {deadline_s} s"
        time.sleep(0.1)


def poll(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    deadline = time.monotonic() + deadline_s
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {deadline_s} s"
        time.sleep(0.1)
    return result


class StatusWatcher:
    """A `reelStatus` subscription over the websocket, read by a thread so the test can wait
    with a deadline (the test client's receive blocks)."""

    def __init__(self, api: Api, token: str, reel_id: str) -> None:
        self._context = api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"])
        self._ws = self._context.__enter__()
        self._ws.send_json({"type": "connection_init", "payload": {"token": token}})
        assert self._ws.receive_json()["type"] == "connection_ack"
        query = "subscription S($id: ID!) { reelStatus(reelId: $id) { status statusReason thumbnailUrl } }"
        self._ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"id": reel_id}}})
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            message = self._ws.receive_json()
            if message["type"] in ("next", "complete", "error"):
                self._events.put(message)
            if message["type"] != "next":
                return

    def next_event(self, timeout_s: float) -> dict[str, Any] | None:
        """The reel of the next event within `timeout_s`; None if none came."""
        try:
            message = self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None
        assert message["type"] == "next" and "errors" not in message["payload"], message
        reel: dict[str, Any] = message["payload"]["data"]["reelStatus"]
        return reel

    def next_status(self, timeout_s: float) -> str | None:
        """The status of the next event within `timeout_s`; None if none came."""
        event = self.next_event(timeout_s)
        return None if event is None else event["status"]

    def statuses_until_final(self, deadline_s: float = DEADLINE_S) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + deadline_s
        while not seen or seen[-1] not in FINAL:
            message = self._events.get(timeout=max(0.01, deadline - time.monotonic()))
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            seen.append(message["payload"]["data"]["reelStatus"]["status"])
        assert self._events.get(timeout=10)["type"] == "complete"
        return seen

    def close(self) -> None:
        self._context.__exit__(None, None, None)


def rendition_playlists(api: Api, master_url: str) -> list[tuple[str, str]]:
    """(variant URL, media playlist text) of each rung, followed from the master as a player does."""
    master = fetch(api, master_url).decode()
    urls = [line for line in master.splitlines() if line and not line.startswith("#")]
    return [(url, fetch(api, url).decode()) for url in urls]


def decode_rung(api: Api, playlist: str) -> tuple[list[float], bytes, list[bytes]]:
    """Decode every segment of one rung on its own (init + segment) as a player switching rungs
    would; its EXTINF timeline, init section and segments."""
    init_url, segments = parse_media_playlist(playlist)
    init = fetch(api, init_url)
    bodies = []
    for _, url in segments:
        body = fetch(api, url)
        with av.open(io.BytesIO(init + body)) as container:
            frames = list(container.decode(container.streams.video[0]))
        assert frames and frames[0].key_frame, f"{url} does not start with a decodable keyframe"
        bodies.append(body)
    return [duration for duration, _ in segments], init, bodies
