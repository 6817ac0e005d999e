"""Failures the user can fix, as data: the API edge turns them into `userErrors` entries."""

from __future__ import annotations

import enum
import math


class ErrorCode(enum.StrEnum):
    """Stable, machine-readable: clients branch on these strings."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID = "INVALID"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TAKEN = "TAKEN"
    TOO_LONG = "TOO_LONG"
    TOO_LARGE = "TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"


class DomainError(Exception):
    """A rule said no. `field` names the domain field at fault (e.g. "watched_ms"), None when
    no single field is; the edge maps it to the input path its clients see."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class AuthenticationError(Exception):
    """A credential was presented and is not valid (forged, expired, suspended account).

    Distinct from an anonymous request: the whole request is refused.
    """


def not_found(what: str, field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", field)


def forbidden(message: str = "you are not allowed to do this", field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.FORBIDDEN, message, field)


def invalid(message: str, field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field)


def wait_seconds(wait_s: float) -> int:
    """A wait as clients are told it, in messages and in Retry-After alike: whole seconds,
    rounded up, at least 1 (a client that waits that long is let in)."""
    return max(1, math.ceil(wait_s))


def rate_limited(what: str, wait_s: float) -> DomainError:
    return DomainError(ErrorCode.RATE_LIMITED, f"{what}; try again in {wait_seconds(wait_s)} s")
