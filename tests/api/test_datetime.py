"""Every DateTime the API shows is UTC with a `Z`, whatever the database hands back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from reels.schema.scalars import DATETIME_UTC
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


def test_each_shape_a_database_hands_back_shows_the_same_instant() -> None:
    """PostgreSQL's driver gives times in UTC, SQLite's naive ones (stored as UTC); any other
    offset is converted."""
    serialize = DATETIME_UTC.serialize
    instant = datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)
    shapes = [instant, instant.replace(tzinfo=None), instant.astimezone(timezone(timedelta(hours=5, minutes=30)))]
    assert [serialize(shape) for shape in shapes] == ["2026-01-31T12:00:00.123456Z"] * 3
    assert serialize(instant.replace(microsecond=0)) == "2026-01-31T12:00:00Z"
