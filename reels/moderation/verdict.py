"""What the automated checks say about an upload, and how several of them combine."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """In increasing severity: a combined verdict takes the most severe of its checks'."""

    ALLOW = "ALLOW"
    HOLD = "HOLD"  # wait for a moderator
    BLOCK = "BLOCK"

    @property
    def severity(self) -> int:
        return list(Action).index(self)


@dataclass(frozen=True)
class Finding:
    """One check's reason to hold or block: `check` names the check, `reason` is a sentence for
    the moderator and the audit log. A re-upload names its original and the match score; a
    term list the matched term."""

    check: str
    action: Action
    reason: str
    term: str | None = None
    original_reel_id: str | None = None
    score: float | None = None


@dataclass(frozen=True)
class Verdict:
    """The action to take, the findings behind it (most severe first) and the checks that
    failed to run (`errors`: reported, not fatal; the other checks still decide)."""

    action: Action = Action.ALLOW
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()

    @classmethod
    def allow(cls) -> Verdict:
        return cls()

    @classmethod
    def hold(cls, check: str, reason: str) -> Verdict:
        return cls.of(Finding(check, Action.HOLD, reason))

    @classmethod
    def block(cls, check: str, reason: str) -> Verdict:
        return cls.of(Finding(check, Action.BLOCK, reason))

    @classmethod
    def of(cls, *findings: Finding) -> Verdict:
        """The verdict of these findings; ALLOW findings are no reason for anything and dropped."""
        kept = (finding for finding in findings if finding.action is not Action.ALLOW)
        ordered = tuple(sorted(kept, key=lambda finding: -finding.action.severity))
        return cls(ordered[0].action if ordered else Action.ALLOW, ordered)

    @classmethod
    def failed(cls, error: str) -> Verdict:
        return cls(errors=(error,))

    @classmethod
    def combine(cls, *verdicts: Verdict) -> Verdict:
        combined = cls.of(*(finding for verdict in verdicts for finding in verdict.findings))
        return cls(combined.action, combined.findings, tuple(e for verdict in verdicts for e in verdict.errors))

    @property
    def reason(self) -> str:
        """The deciding finding's reason; empty when allowed."""
        return self.findings[0].reason if self.findings else ""
