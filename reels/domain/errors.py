"""Failures the user can fix, as data: resolvers turn them into `userErrors` entries."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """A rule said no. `code` is stable and machine-readable; `field` is the input path at fault."""

    def __init__(self, code: str, message: str, field: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = list(field)


class AuthenticationError(Exception):
    """A credential was presented and is not valid (forged, expired, suspended account).

    Distinct from an anonymous request: the whole request is refused.
    """


def not_found(what: str, field: Sequence[str] = ()) -> DomainError:
    return DomainError("NOT_FOUND", f"{what} not found", field)


def forbidden(message: str = "you are not allowed to do this", field: Sequence[str] = ()) -> DomainError:
    return DomainError("FORBIDDEN", message, field)


def invalid(message: str, field: Sequence[str] = ()) -> DomainError:
    return DomainError("INVALID", message, field)
