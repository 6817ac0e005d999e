"""Display names with control characters, line breaks or text-direction overrides are refused
(an INVALID userErrors entry); emoji sequences and accents are names like any other."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from tests.conftest import Api
from tests.security.conftest import Answer

REGISTER = """
mutation R($u: String!, $d: String) {
  register(input: {username: $u, password: "correct horse battery", displayName: $d}) {
    token user { displayName } userErrors { field code }
  }
}"""

UNSHOWABLE = {
    "right-to-left override": "evil\u202egpj.exe",
    "left-to-right isolate": "a\u2066b",
    "right-to-left mark": "name\u200f",
    "newline": "two\nlines",
    "tab": "tab\there",
    "NUL": "nul\x00",
    "escape": "\x1b[31mred",
    "next line (C1)": "a\x85b",
    "line separator": "a\u2028b",
}
SHOWABLE = ("Zoë", "family \U0001f468\u200d\U0001f469\u200d\U0001f467", "\u05e9\u05dc\u05d5\u05dd", "日本")


@pytest.mark.parametrize("name", UNSHOWABLE)
def test_a_display_name_that_could_deceive_is_refused(
    api: Api, healthy: Callable[[Iterable[Answer]], None], name: str
) -> None:
    body = api(REGISTER, {"u": "deceiver", "d": UNSHOWABLE[name]})
    payload = body["data"]["register"]
    assert payload["token"] is None and payload["user"] is None, body
    assert payload["userErrors"] == [{"field": ["input", "displayName"], "code": "INVALID"}], body
    healthy([body])


def test_ordinary_names_are_kept(api: Api, healthy: Callable[[Iterable[Answer]], None]) -> None:
    answers = [api(REGISTER, {"u": f"person{index}", "d": name}) for index, name in enumerate(SHOWABLE)]
    assert [answer["data"]["register"]["user"]["displayName"] for answer in answers] == list(SHOWABLE)
    healthy(answers)
