"""Who may call a field: strawberry permission classes, checked before the resolver runs.

Resolvers behind them read the viewer as `info.context.signed_in`.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from reels.domain.accounts import can_moderate
from reels.domain.models import Role


class IsAuthenticated(BasePermission):
    message = "authentication required: send a token"
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class IsModerator(BasePermission):
    """Moderators and admins; list it after IsAuthenticated, which answers anonymous callers."""

    message = "moderators and admins only"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return can_moderate(info.context.viewer)


class IsAdmin(BasePermission):
    """Admins; list it after IsAuthenticated, which answers anonymous callers."""

    message = "admins only"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.role == Role.ADMIN


SIGNED_IN: list[type[BasePermission]] = [IsAuthenticated]
MODERATORS: list[type[BasePermission]] = [IsAuthenticated, IsModerator]
ADMINS: list[type[BasePermission]] = [IsAuthenticated, IsAdmin]
