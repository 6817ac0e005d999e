"""Symmetric deletion: a query one slip from a name's start shares a variant with one of the
name's keys, and a query further away does not."""

from __future__ import annotations

import random
import string

from reels.domain.search import KEY_LENGTH, misspelling_variants, name_keys, variants_of_key

NAMES = ["marguerite", "jane.doe87", "jdoe", "amy", "christopher_lee", "zoë"]


def slips(word: str, rng: random.Random) -> list[str]:
    """Every kind of one-letter slip at every place: wrong, missing, extra, two swapped."""
    other = lambda c: rng.choice([x for x in string.ascii_lowercase if x != c])  # noqa: E731
    found = []
    for at in range(len(word)):
        found += [word[:at] + other(word[at]) + word[at + 1 :], word[:at] + word[at + 1 :]]
        found.append(word[:at] + other(word[at]) + word[at:])
        if at + 1 < len(word):
            found.append(word[:at] + word[at + 1] + word[at] + word[at + 2 :])
    return [slip for slip in found if len(slip) >= 3]


def test_every_one_slip_typo_of_a_name_or_its_start_meets_a_key() -> None:
    rng = random.Random(3)
    for name in NAMES:
        keys = name_keys(name, "")
        # The whole name, and its start as typed so far (four letters up to a key and beyond).
        for typed in {name, *(name[:length] for length in range(4, len(name)))}:
            for slip in slips(typed, rng):
                assert any(misspelling_variants(slip) & variants_of_key(key) for key in keys), (name, typed, slip)


def test_names_two_slips_apart_in_a_key_do_not_meet() -> None:
    assert not misspelling_variants("mxrgxer") & variants_of_key("marguer")
    assert not misspelling_variants("zzzzzzz") & variants_of_key("marguer")


def test_keys_are_the_starts_of_the_username_and_each_display_name_word() -> None:
    assert name_keys("jane.doe87", "Jane Doe-Smithers") == {"jane.do", "jane", "doe", "smither"}
    assert all(len(key) <= KEY_LENGTH for key in name_keys("christopher_lee", "Christopher Lee"))
