"""Sessions end everywhere at once: suspension and logout close the user's open sockets (on
every API process) and refuse the token on HTTP; a connection_init token that is not a string
is refused like a forged one."""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from reels.domain import accounts
from reels.domain.models import RevokedToken, Role
from reels.http.app import create_app
from reels.settings import Settings
from reels.workers import maintenance
from tests.conftest import Api, platform_of, run

DEADLINE_S = 15.0
VIEWER = "{ viewer { username role } }"
LOGIN = """mutation L($input: LoginInput!) { login(input: $input) { token userErrors { code message } } }"""
LOGOUT = "mutation { logout { loggedOut userErrors { code message } } }"
SUSPEND = """mutation S($input: SuspendUserInput!) { suspendUser(input: $input) { userErrors { code message } } }"""
NOTIFICATIONS = "subscription { notifications { kind } }"
PASSWORD = "correct horse battery"


class Socket:
    """A graphql-transport-ws socket whose frames a thread reads, so the test waits with a deadline."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                frame = self.ws.receive()
            except anyio.ClosedResourceError:  # the test left the socket
                return
            self.frames.put(frame)
            if frame["type"] == "websocket.close":
                return

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send_json(message)

    def next_frame(self, timeout_s: float = DEADLINE_S) -> dict[str, Any]:
        """The next frame: a decoded message, or the close frame {"type": "websocket.close", "code": …}."""
        try:
            frame = self.frames.get(timeout=timeout_s)
        except queue.Empty:
            pytest.fail(f"no frame within {timeout_s} s")
        if frame["type"] == "websocket.send":
            return dict(json.loads(frame["text"]))
        return frame

    def next_message(self) -> dict[str, Any]:
        """The next protocol message, past keep-alive pings."""
        while (frame := self.next_frame())["type"] == "ping":
            pass
        return frame

    def run(self, operation_id: str, query: str) -> dict[str, Any]:
        self.send({"id": operation_id, "type": "subscribe", "payload": {"query": query}})
        return self.next_message()


@contextmanager
def socket(api: Api, payload: dict[str, Any]) -> Iterator[Socket]:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        opened = Socket(ws)
        opened.send({"type": "connection_init", "payload": payload})
        yield opened


@contextmanager
def signed_in_socket(api: Api, token: str) -> Iterator[Socket]:
    with socket(api, {"token": token}) as opened:
        assert opened.next_message()["type"] == "connection_ack"
        yield opened


def moderator_token(api: Api) -> str:
    run(api, accounts.register, platform_of(api).sessions, "the_mod", PASSWORD, None, Role.MODERATOR)
    return str(api.data(LOGIN, {"input": {"username": "the_mod", "password": PASSWORD}})["login"]["token"])


def assert_closed_forbidden(opened: Socket) -> None:
    frame = opened.next_message()
    assert frame["type"] == "websocket.close" and frame["code"] == 4403, frame


def test_suspension_closes_the_users_open_sockets_at_once(api: Api) -> None:
    token, user = api.register("spammer")
    mod = moderator_token(api)
    with signed_in_socket(api, token) as watching, signed_in_socket(api, token) as idle:
        watching.send({"id": "n", "type": "subscribe", "payload": {"query": NOTIFICATIONS}})
        suspended = api.data(SUSPEND, {"input": {"userId": user["id"], "reason": "spam"}}, token=mod)
        assert suspended["suspendUser"]["userErrors"] == []
        assert_closed_forbidden(watching)
        assert_closed_forbidden(idle)
    with socket(api, {"token": token}) as again:
        assert_closed_forbidden(again)
    assert api.post(VIEWER, token=token).status_code == 401


def test_logout_revokes_the_token_in_use_on_http_and_its_sockets(api: Api) -> None:
    token, _ = api.register("leaver")
    other = api.data(LOGIN, {"input": {"username": "leaver", "password": PASSWORD}})["login"]["token"]
    with signed_in_socket(api, token) as revoked, signed_in_socket(api, other) as kept:
        assert api.data(LOGOUT, token=token)["logout"] == {"loggedOut": True, "userErrors": []}
        assert_closed_forbidden(revoked)
        # The user's other token (another device) is still good, on its socket and on HTTP.
        assert kept.run("q", VIEWER)["payload"]["data"] == {"viewer": {"username": "leaver", "role": "USER"}}
    refused = api.post(VIEWER, token=token)
    assert refused.status_code == 401 and "revoked" in refused.json()["errors"][0]["message"]
    with socket(api, {"token": token}) as again:
        assert_closed_forbidden(again)
    assert api.data(VIEWER, token=other) == {"viewer": {"username": "leaver", "role": "USER"}}


def test_a_logged_out_token_stays_refused_by_a_process_with_an_empty_cache(
    api: Api, embedded_settings: Settings
) -> None:
    """Revocations live in the database, not in the cache: a restarted process (its in-process
    cache empty, as a lost Redis would leave it) refuses the token as well."""
    token, _ = api.register("gone_for_good")
    assert api.data(LOGOUT, token=token)["logout"]["loggedOut"] is True
    with TestClient(create_app(embedded_settings)) as restarted:
        refused = Api(restarted).post(VIEWER, token=token)
    assert refused.status_code == 401 and "revoked" in refused.json()["errors"][0]["message"]


def test_maintenance_forgets_only_the_revocations_of_expired_tokens(api: Api) -> None:
    token, _ = api.register("tidy")
    assert api.data(LOGOUT, token=token)["logout"]["loggedOut"] is True
    platform = platform_of(api)
    expired = RevokedToken(token_id="expired-token", expires_at=datetime.now(UTC) - timedelta(seconds=1))

    async def add_expired_and_run_maintenance() -> set[str]:
        async with platform.sessions() as session:
            session.add(expired)
            await session.commit()
        await platform.kv.delete(maintenance.LOCK_KEY)  # the run at start-up holds it
        await maintenance.run_once(platform)
        async with platform.sessions() as session:
            return set((await session.scalars(select(RevokedToken.token_id))).all())

    kept = run(api, add_expired_and_run_maintenance)
    assert kept == {accounts.read_token(token, platform.jwt_secret).token_id}
    assert api.post(VIEWER, token=token).status_code == 401


def test_logout_needs_a_token(api: Api) -> None:
    body = api(LOGOUT)
    assert not (body["data"] or {}).get("logout", {}).get("loggedOut") and "UNAUTHENTICATED" in json.dumps(body)


@pytest.mark.parametrize("token", [123, 1.5, True, [], {}, ["a.b.c"], {"token": "a.b.c"}])
def test_a_token_that_is_not_a_string_is_refused(api: Api, token: Any) -> None:
    with socket(api, {"token": token}) as opened:
        assert_closed_forbidden(opened)


@pytest.fixture
def two_apis(tmp_path: Path, migrated_sqlite: Path, redis_url: str) -> Iterator[tuple[Api, Api]]:
    """Two API processes' apps on one database and one Redis (pub/sub, cache)."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    shutil.copy(migrated_sqlite, data_dir / "reels.db")
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'reels.db'}",
        redis_url=redis_url,
        secret_key="two-apis-" + "s" * 40,
    )
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        yield Api(first), Api(second)


@pytest.mark.services
def test_suspension_and_logout_on_one_process_close_sockets_on_the_other(two_apis: tuple[Api, Api]) -> None:
    first, second = two_apis
    name = "far_away"
    token, user = first.register(name)
    other = first.data(LOGIN, {"input": {"username": name, "password": PASSWORD}})["login"]["token"]
    with signed_in_socket(second, token) as revoked:
        assert first.data(LOGOUT, token=token)["logout"]["loggedOut"] is True
        assert_closed_forbidden(revoked)
    mod = moderator_token(first)
    with signed_in_socket(second, other) as suspended:
        assert first.data(SUSPEND, {"input": {"userId": user["id"], "reason": "spam"}}, token=mod)["suspendUser"] == {
            "userErrors": []
        }
        assert_closed_forbidden(suspended)
    assert second.post(VIEWER, token=other).status_code == 401


REPORTS = "{ reports(first: 1) { edges { node { id } } } }"


def reports_allowed(opened: Socket, operation_id: str) -> bool:
    answer = opened.run(operation_id, REPORTS)
    if answer["type"] == "next":
        assert opened.next_message()["type"] == "complete"
    return answer["type"] == "next" and not answer["payload"].get("errors")


SET_ROLE = """mutation R($input: SetUserRoleInput!) {
  setUserRole(input: $input) { user { role } userErrors { code message } } }"""


def test_a_role_change_reaches_the_users_open_socket(api: Api) -> None:
    """An admin's setUserRole, as `reels set-role` does, applies to the account's open socket."""
    token, user = api.register("promoted")
    run(api, accounts.register, platform_of(api).sessions, "the_admin", PASSWORD, None, Role.ADMIN)
    admin = str(api.data(LOGIN, {"input": {"username": "the_admin", "password": PASSWORD}})["login"]["token"])

    def set_role(role: str) -> None:
        changed = api.data(SET_ROLE, {"input": {"userId": user["id"], "role": role}}, token=admin)["setUserRole"]
        assert changed == {"user": {"role": role}, "userErrors": []}

    with signed_in_socket(api, token) as opened:
        assert not reports_allowed(opened, "before")
        set_role("MODERATOR")
        deadline = time.monotonic() + DEADLINE_S
        attempt = 0
        while not reports_allowed(opened, f"promoted{attempt}"):
            attempt += 1
            assert time.monotonic() < deadline, "the socket kept the old role"
            time.sleep(0.05)  # poll interval
        set_role("USER")
        while reports_allowed(opened, f"demoted{attempt}"):
            attempt += 1
            assert time.monotonic() < deadline, "the socket kept the moderator role"
            time.sleep(0.05)  # poll interval
