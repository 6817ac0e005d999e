"""Every DateTime the API shows is UTC with a `Z`, whatever the database hands back."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import Api, insert_ready_reel

TIMES = """
query Times($id: ID!) {
  viewer { createdAt }
  reel(id: $id) { createdAt creator { createdAt } }
}"""


def _is_utc_z(value: str) -> bool:
    return value.endswith("Z") and datetime.fromisoformat(value).utcoffset() == UTC.utcoffset(None)


def test_datetimes_are_utc_with_z(api: Api) -> None:
    token, user = api.register("clock_reader")
    reel_id = insert_ready_reel(api, user["id"])

    data = api.data(TIMES, {"id": reel_id}, token=token)

    shown = [data["viewer"]["createdAt"], data["reel"]["createdAt"], data["reel"]["creator"]["createdAt"]]
    assert all(_is_utc_z(value) for value in shown), shown
    assert abs((datetime.now(UTC) - datetime.fromisoformat(shown[1])).total_seconds()) < 3600
