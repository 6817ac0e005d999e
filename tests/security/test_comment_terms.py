"""Comments against the term lists at write time: a blocked or a held term refuses the comment
with a userErrors entry (a held comment would have no queue to wait in); other comments pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reels.http.app import create_app
from reels.settings import Settings
from tests.conftest import Api, insert_ready_reel

COMMENT = """mutation C($id: ID!, $text: String!) {
  addComment(input: {reelId: $id, text: $text}) { comment { text } userErrors { field message code } }
}"""
REFUSED = [
    {"field": ["input", "text"], "message": "this comment uses a term that is not allowed here", "code": "INVALID"}
]


@pytest.fixture
def api(embedded_settings: Settings, tmp_path: Path) -> Iterator[Api]:
    blocked, held = tmp_path / "blocked.txt", tmp_path / "held.txt"
    blocked.write_text("buy followers\n")
    held.write_text("kill\n")
    settings = embedded_settings.model_copy(update={"blocked_terms_file": blocked, "held_terms_file": held})
    with TestClient(create_app(settings)) as client:
        yield Api(client)


@pytest.mark.parametrize("text", ["Buy FOLLOWERS here", "i will kíll you", "KILL!"])
def test_a_comment_with_a_listed_term_is_refused(api: Api, text: str) -> None:
    _, creator = api.register("creator")
    token, _ = api.register("commenter")
    reel_id = insert_ready_reel(api, creator["id"])
    answer = api.data(COMMENT, {"id": reel_id, "text": text}, token)["addComment"]
    assert answer == {"comment": None, "userErrors": REFUSED}


@pytest.mark.parametrize("text", ["what a skill", "buy more followers", "killer move"])
def test_other_comments_pass_whole_words_only(api: Api, text: str) -> None:
    _, creator = api.register("creator")
    token, _ = api.register("commenter")
    reel_id = insert_ready_reel(api, creator["id"])
    answer = api.data(COMMENT, {"id": reel_id, "text": text}, token)["addComment"]
    assert answer == {"comment": {"text": text}, "userErrors": []}
