"""Term lists: whole words and phrases, whatever the case, accents or compatibility forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from reels.moderation import Action, TermList
from reels.moderation.terms import words

TERMS = TermList(blocked=["kill", "buy followers"], held=["cheap", "Crème brûlée"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will kill you", (Action.BLOCK, "kill")),
        ("I WILL KILL YOU!!!", (Action.BLOCK, "kill")),
        ("kíll, now", (Action.BLOCK, "kill")),
        ("ｋｉｌｌ", (Action.BLOCK, "kill")),  # full-width letters
        ("Buy   followers, cheap", (Action.BLOCK, "buy followers")),  # blocked beats held
        ("BUY\nFOLLOWERS", (Action.BLOCK, "buy followers")),
        ("so cheap", (Action.HOLD, "cheap")),
        ("creme brulee for two", (Action.HOLD, "Crème brûlée")),
        ("CRÈME BRÛLÉE", (Action.HOLD, "Crème brûlée")),
    ],
)
def test_terms_are_found_as_whole_words(text: str, expected: tuple[Action, str]) -> None:
    assert TERMS.find(text) == expected


@pytest.mark.parametrize(
    "text",
    ["what a skill", "killer whales", "overkill", "buy more followers", "followers buy", "cheaper", "", "crème"],
)
def test_parts_of_words_and_broken_phrases_are_not_terms(text: str) -> None:
    assert TERMS.find(text) is None
    assert TERMS.check(text).action is Action.ALLOW


def test_the_verdict_names_the_term_and_the_field() -> None:
    verdict = TERMS.check("I will kill you", field="comment")

    assert verdict.action is Action.BLOCK
    assert verdict.findings[0].term == "kill"
    assert verdict.reason == "the comment contains the blocked term “kill”"


def test_words_are_normalised_alike() -> None:
    assert words("Straße ÉTÉ ﬁne_tune don't") == ("strasse", "ete", "fine", "tune", "don", "t")


def test_term_files_have_one_term_a_line_and_comments(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked.txt"
    blocked.write_text("# threats\nkill   # as a whole word\n\n  buy followers\n", encoding="utf-8")
    held = tmp_path / "held.txt"
    held.write_text("\ufeffcheap\n", encoding="utf-8")  # a byte-order mark is no part of the term

    terms = TermList.from_files(blocked, held)

    assert terms.find("please buy followers") == (Action.BLOCK, "buy followers")
    assert terms.find("Kill") == (Action.BLOCK, "kill")
    assert terms.find("cheap") == (Action.HOLD, "cheap")
    assert terms.find("threats as a whole word") is None


def test_an_empty_list_allows_everything() -> None:
    assert not TermList()
    assert TermList().find("kill") is None


def test_a_term_without_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="no letters"):
        TermList(blocked=["!!!"])
