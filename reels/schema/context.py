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
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.reset_loaders()

    def reset_loaders(self) -> None:
        """Fresh loaders: per HTTP request, and per subscription event on a long-lived socket."""
        self.loaders = Loaders(self.platform, self.viewer.id if self.viewer else None)

    @property
    def signed_in(self) -> User:
        """The viewer of a field guarded by IsAuthenticated or IsModerator (never None there)."""
        if self.viewer is None:
            raise RuntimeError("a field reading `signed_in` must be guarded by a permission class")
        return self.viewer
