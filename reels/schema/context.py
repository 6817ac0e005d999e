"""The per-request (or per-socket) GraphQL context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reels.dataloaders import Loaders
from reels.domain.models import User

if TYPE_CHECKING:
    from reels.platform import Platform
    from reels.subscriptions.live_counts import LiveCounts


@dataclass
class Context:
    platform: Platform
    viewer: User | None
    live_counts: LiveCounts  # the app's reel-count feeds, shared by its subscribers
    request: Any = None
    response: Any = None
    # Filled by strawberry from the websocket `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    _loaders: Loaders | None = field(init=False, default=None, repr=False)

    @property
    def loaders(self) -> Loaders:
        """Built on first use: many websockets never need any, and a socket lives long."""
        if self._loaders is None:
            self._loaders = Loaders(self.platform, self.viewer.id if self.viewer else None)
        return self._loaders

    def reset_loaders(self) -> None:
        """Fresh loaders from the next use on: per HTTP request, and per subscription event on a
        long-lived socket (cached rows would go stale, and would stay in memory)."""
        self._loaders = None

    @property
    def signed_in(self) -> User:
        """The viewer of a field guarded by IsAuthenticated or IsModerator (never None there)."""
        if self.viewer is None:
            raise RuntimeError("a field reading `signed_in` must be guarded by a permission class")
        return self.viewer
