"""Term lists for captions and comments: whole words and phrases, whatever the case or accents.

Text and terms are compared as sequences of words after the same normalisation: Unicode
compatibility decomposition (NFKD, so "ﬁ" is "fi" and full-width letters are ASCII), case
folding ("ß" is "ss"), and accents dropped ("Kíll" is "kill"). A word is a run of letters,
digits and spacing marks; everything else separates words. So the term "kill" matches "I will
KILL you" and "kill!" but not "skill" or "killer", and "buy followers" matches "Buy  followers
cheap" but not "buy more followers".

Term files hold one term (a word or a phrase) per line; `#` starts a comment, blank lines are
ignored. Text without spaces between words (Chinese, Japanese, Thai) is one word to this
matcher, so a term inside it is not found.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

from reels.moderation.verdict import Action, Finding, Verdict

CHECK = "terms"
_WORD_CATEGORIES = frozenset("LNM")  # letters, numbers, marks (the accents are gone by then)


def normalize(text: str) -> str:
    """Caseless, accentless compatibility form: NFKD(casefold(NFKD(text))) without nonspacing marks."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


def words(text: str) -> tuple[str, ...]:
    """The normalised words of `text`, in order."""
    spaced = "".join(char if unicodedata.category(char)[0] in _WORD_CATEGORIES else " " for char in normalize(text))
    return tuple(spaced.split())


def read_terms(path: Path) -> list[str]:
    """The terms of a term file, in file order."""
    terms = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        term = line.partition("#")[0].strip()
        if term:
            terms.append(term)
    return terms


class TermList:
    """Blocked and held terms; a text with a blocked term is blocked, else one with a held
    term is held."""

    def __init__(self, blocked: Iterable[str] = (), held: Iterable[str] = ()) -> None:
        # Phrases by their first word: a text is scanned once whatever the list's length.
        self._by_first_word: dict[str, list[tuple[tuple[str, ...], str, Action]]] = {}
        for action, terms in ((Action.BLOCK, blocked), (Action.HOLD, held)):
            for term in terms:
                phrase = words(term)
                if not phrase:
                    raise ValueError(f"the term {term!r} has no letters or digits to match")
                self._by_first_word.setdefault(phrase[0], []).append((phrase, term, action))

    @classmethod
    def from_files(cls, blocked: Path | None = None, held: Path | None = None) -> TermList:
        return cls(read_terms(blocked) if blocked else (), read_terms(held) if held else ())

    def __bool__(self) -> bool:
        return bool(self._by_first_word)

    def find(self, text: str) -> tuple[Action, str] | None:
        """The most severe term in `text` (the first of those in reading order) and its action."""
        found: tuple[Action, str] | None = None
        text_words = words(text)
        for start, word in enumerate(text_words):
            for phrase, term, action in self._by_first_word.get(word, ()):
                if text_words[start : start + len(phrase)] == phrase:
                    if action is Action.BLOCK:
                        return action, term
                    found = found or (action, term)
        return found

    def check(self, text: str, *, field: str = "caption") -> Verdict:
        """The verdict on `text`; `field` ("caption", "comment") words the reason."""
        found = self.find(text)
        if found is None:
            return Verdict.allow()
        action, term = found
        kind = "blocked" if action is Action.BLOCK else "held"
        return Verdict.of(Finding(CHECK, action, f"the {field} contains the {kind} term “{term}”", term=term))
