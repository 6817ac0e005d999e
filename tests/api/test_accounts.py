"""Accounts through the public API: register, login, viewer, node, tokens, roles, suspension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.conftest import REGISTER, Api

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token user { username } userErrors { field message code } }
}"""
VIEWER = "query { viewer { id username displayName role followerCount followingCount viewerIsFollowing } }"
NODE = "query Node($id: ID!) { node(id: $id) { id ... on User { username } } }"


def test_register_login_viewer_round_trip(api: Api) -> None:
    token, user = api.register("Alice_1", "a long enough password")
    assert user["username"] == "alice_1" and user["role"] == "USER"

    login = api.data(LOGIN, {"input": {"username": "ALICE_1", "password": "a long enough password"}})["login"]
    assert login["userErrors"] == [] and login["user"]["username"] == "alice_1"

    viewer = api.data(VIEWER, token=login["token"])["viewer"]
    assert viewer["id"] == user["id"] and viewer["viewerIsFollowing"] is False
    assert api.data(VIEWER)["viewer"] is None  # anonymous

    node = api.data(NODE, {"id": user["id"]})["node"]
    assert node == {"id": user["id"], "username": "alice_1"}


@pytest.mark.parametrize("bad_id", ["", "nope", "VXNlcjo=", "UmVlbDox", "x" * 500, "VXNlcjoxMjM0NQ"])
def test_node_with_malformed_or_unknown_id_is_null(api: Api, bad_id: str) -> None:
    body = api(NODE, {"id": bad_id})
    assert body["data"] == {"node": None} and "errors" not in body


@pytest.mark.parametrize(
    ("username", "password", "field", "code"),
    [
        ("ab", "long enough password", "username", "INVALID"),
        ("has space", "long enough password", "username", "INVALID"),
        ("x" * 31, "long enough password", "username", "INVALID"),
        ("émile", "long enough password", "username", "INVALID"),
        ("fine_name", "short", "password", "INVALID"),
        ("fine_name", "p" * 201, "password", "INVALID"),
    ],
)
def test_register_rejects_bad_input_with_user_errors(
    api: Api, username: str, password: str, field: str, code: str
) -> None:
    payload = api.data(REGISTER, {"input": {"username": username, "password": password}})["register"]
    assert payload["token"] is None and payload["user"] is None
    assert {"field": ["input", field], "code": code} == {k: payload["userErrors"][0][k] for k in ("field", "code")}


def test_usernames_are_unique_case_insensitively(api: Api) -> None:
    api.register("bob.smith")
    payload = api.data(REGISTER, {"input": {"username": "BOB.Smith", "password": "another password"}})["register"]
    assert payload["userErrors"][0]["code"] == "TAKEN" and payload["token"] is None


def test_wrong_password_and_unknown_user_answer_the_same(api: Api) -> None:
    api.register("carol")
    wrong = api.data(LOGIN, {"input": {"username": "carol", "password": "not the password"}})["login"]
    unknown = api.data(LOGIN, {"input": {"username": "nobody", "password": "not the password"}})["login"]
    assert wrong["userErrors"] == unknown["userErrors"]
    assert wrong["userErrors"][0]["code"] == "INVALID_CREDENTIALS" and wrong["token"] is None


def test_forged_and_expired_tokens_are_refused_not_anonymous(api: Api) -> None:
    token, _ = api.register("dave")
    forged = jwt.encode(
        {"sub": "1", "exp": datetime.now(UTC) + timedelta(hours=1)}, "not-the-secret-" * 4, algorithm="HS256"
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    secret = api.client.app.state.platform.jwt_secret
    expired = jwt.encode(
        {"sub": claims["sub"], "exp": datetime.now(UTC) - timedelta(seconds=5)}, secret, algorithm="HS256"
    )
    for bad in (forged, expired, token[:-3] + "abc", "garbage"):
        response = api.post(VIEWER, token=bad)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in api.post(VIEWER, token=expired).json()["errors"][0]["message"]
    response = api.client.post("/graphql", json={"query": VIEWER}, headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


def test_websocket_connection_init_token_sets_the_viewer(api: Api) -> None:
    token, _ = api.register("erin")
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"token": token}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { username } }"}})
        message = ws.receive_json()
        assert message["type"] == "next" and message["payload"]["data"] == {"viewer": {"username": "erin"}}
        assert ws.receive_json()["type"] == "complete"


def test_websocket_with_a_forged_token_is_closed(api: Api) -> None:
    from starlette.websockets import WebSocketDisconnect

    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"token": "forged.token.here"}})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4403


def test_subscription_needing_a_viewer_is_refused_on_an_anonymous_socket(api: Api) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "n", "type": "subscribe", "payload": {"query": "subscription { notifications { kind } }"}})
        message = ws.receive_json()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_legacy_graphql_ws_protocol_is_off(api: Api) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with api.client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
            ws.send_json({"type": "connection_init"})
            ws.receive_json()


def _set_role_or_suspend(api: Api, username: str, *, role: str | None = None, suspend: bool = False) -> None:
    from sqlalchemy import update

    from reels.domain.models import Role, User

    platform = api.client.app.state.platform

    async def change() -> None:
        values: dict = {}
        if role:
            values["role"] = Role(role)
        if suspend:
            values["suspended_at"] = datetime.now(UTC)
        async with platform.sessions() as session:
            await session.execute(update(User).where(User.username == username).values(**values))
            await session.commit()

    api.client.portal.call(change)


def test_roles_gate_moderator_operations_and_suspension_blocks_login(api: Api) -> None:
    user_token, user = api.register("frank")
    mod_token, _ = api.register("grace")
    _set_role_or_suspend(api, "grace", role="MODERATOR")

    reports = "query { reports { edges { node { id } } } }"
    refused = api(reports, token=user_token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert api.data(reports, token=mod_token)["reports"]["edges"] == []

    suspend = """mutation S($input: SuspendUserInput!) { suspendUser(input: $input) { user { username } userErrors { code } } }"""
    refused_mutation = api.data(suspend, {"input": {"userId": user["id"], "reason": "spam"}}, token=user_token)
    assert refused_mutation["suspendUser"] == {"user": None, "userErrors": [{"code": "FORBIDDEN"}]}
    payload = api.data(suspend, {"input": {"userId": user["id"], "reason": "spam"}}, token=mod_token)["suspendUser"]
    assert payload == {"user": {"username": "frank"}, "userErrors": []}

    login = api.data(LOGIN, {"input": {"username": "frank", "password": "correct horse battery"}})["login"]
    # A suspended account has one code everywhere: on login as on any request with its token.
    assert login["token"] is None and login["userErrors"][0]["code"] == "UNAUTHENTICATED"
    refused_request = api.post(VIEWER, token=user_token)  # existing tokens stop working too
    assert refused_request.status_code == 401
    assert refused_request.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
