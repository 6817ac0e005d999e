"""Password guessing is throttled: failed logins per account and per address back off, and
registrations per address are limited."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import REGISTER, Api
from tests.security.conftest import ApiOf

LOGIN = """mutation L($input: LoginInput!) { login(input: $input) { token userErrors { code message } } }"""
PASSWORD = "correct horse battery"
DEADLINE_S = 15.0


def login(api: Api, username: str, password: str, address: str | None = None) -> dict[str, Any]:
    """The login payload; `address` is the client a trusted proxy names in X-Forwarded-For."""
    headers = {"X-Forwarded-For": address} if address else {}
    body = {"query": LOGIN, "variables": {"input": {"username": username, "password": password}}}
    response = api.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["login"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


def test_failed_logins_per_account_back_off_and_refuse_even_the_right_password(api_of: ApiOf) -> None:
    with api_of(login_failures_per_account=3) as api:
        api.register("victim", PASSWORD)
        assert [codes(login(api, "victim", "wrong password!")) for _ in range(4)] == [["INVALID_CREDENTIALS"]] * 4
        waiting = login(api, "victim", PASSWORD)
        assert waiting["token"] is None and codes(waiting) == ["RATE_LIMITED"]
        assert "try again in 1 s" in waiting["userErrors"][0]["message"]
        # The wait ends (1 s after the first failure past the free ones); then the password works.
        deadline = time.monotonic() + DEADLINE_S
        while (answer := login(api, "victim", PASSWORD))["token"] is None:
            assert codes(answer) == ["RATE_LIMITED"] and time.monotonic() < deadline, answer
            time.sleep(0.05)  # poll interval


def test_failed_logins_per_address_back_off_across_accounts(api_of: ApiOf) -> None:
    with api_of(peer="10.0.0.5", trusted_proxies="10.0.0.0/8", login_failures_per_address=3) as api:
        api.register("bystander", PASSWORD)
        guesser, elsewhere = "198.51.100.1", "198.51.100.2"
        guesses = [codes(login(api, f"guess{n}", "wrong password!", guesser)) for n in range(4)]
        assert guesses == [["INVALID_CREDENTIALS"]] * 4
        assert codes(login(api, "bystander", PASSWORD, guesser)) == ["RATE_LIMITED"]
        assert login(api, "bystander", PASSWORD, elsewhere)["token"]


def test_registrations_per_address_are_limited(api_of: ApiOf) -> None:
    with api_of(registrations_per_hour=3) as api:
        for n in range(3):
            api.register(f"signup{n}")
        refused = api.data(REGISTER, {"input": {"username": "signup3", "password": PASSWORD}})["register"]
        assert refused["token"] is None and codes(refused) == ["RATE_LIMITED"]
        assert "from this address" in refused["userErrors"][0]["message"]
