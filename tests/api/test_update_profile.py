"""updateProfile: the viewer changes display name, bio and region; only what was given changes."""

from __future__ import annotations

from tests.conftest import Api

UPDATE = """mutation P($input: UpdateProfileInput!) {
  updateProfile(input: $input) { user { username displayName bio region } userErrors { field code } }
}"""
PROFILE = "query U($name: String!) { user(username: $name) { displayName bio region } }"


def update(api: Api, token: str | None, **fields: object) -> dict:
    return api.data(UPDATE, {"input": fields}, token=token)["updateProfile"]


def test_a_profile_edit_changes_only_what_was_given(api: Api) -> None:
    token, _ = api.register("biographer")
    assert api.data(PROFILE, {"name": "biographer"})["user"] == {"displayName": "biographer", "bio": "", "region": None}

    edited = update(api, token, displayName=" Ada B. ", bio="I film trains.", region="in")
    assert edited == {
        "user": {"username": "biographer", "displayName": "Ada B.", "bio": "I film trains.", "region": "IN"},
        "userErrors": [],
    }
    update(api, token, bio="Trains, mostly.")
    assert api.data(PROFILE, {"name": "biographer"})["user"] == {
        "displayName": "Ada B.",
        "bio": "Trains, mostly.",
        "region": "IN",
    }
    assert update(api, token, region="")["user"]["region"] is None


def test_a_profile_edit_refuses_what_a_profile_cannot_hold(api: Api) -> None:
    token, _ = api.register("strict")
    refusals = [
        ({"displayName": "   "}, ["input", "displayName"], "INVALID"),
        ({"displayName": "x" * 61}, ["input", "displayName"], "TOO_LONG"),
        ({"displayName": "evil\u202eeman"}, ["input", "displayName"], "INVALID"),
        ({"bio": "b" * 161}, ["input", "bio"], "TOO_LONG"),
        ({"region": "India"}, ["input", "region"], "INVALID"),
    ]
    for fields, field, code in refusals:
        assert update(api, token, **fields) == {"user": None, "userErrors": [{"field": field, "code": code}]}, fields
    assert api.data(PROFILE, {"name": "strict"})["user"] == {"displayName": "strict", "bio": "", "region": None}
    assert update(api, None, bio="anonymous")["userErrors"] == [{"field": [], "code": "UNAUTHENTICATED"}]
