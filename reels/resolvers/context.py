"""The per-request (or per-socket) context every resolver receives, and what the live edge
above provides to it: the reel-count feeds and the socket operation a subscription serves.

Both are Protocols so that this layer names what it needs without importing the layers that
provide it (`reels.subscriptions.live_counts`, `reels.subscriptions.sockets`, `reels.http`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.dataloaders import Loaders
from reels.domain.accounts import AccessToken
from reels.domain.models import User
from reels.domain.playback import PlaybackUrls
from reels.platform import Platform


class SocketOperation(Protocol):
    """One `subscribe` message of one websocket."""

    query: str
    operation_name: str | None
    variables: dict[str, Any]
    # Operations with the same key execute to the same result for the same event.
    render_key: tuple[str, str | None, str]

    async def send_next(self, payload: str) -> bool:
        """Send a `next` message carrying `payload`, an encoded result; False once the socket is closed."""
        ...


class CountsMember(Protocol):
    def payloads(self) -> AsyncIterator[str]:
        """Encoded results, one per count event the subscriber may see, until it may not."""
        ...


class LiveCountFeeds(Protocol):
    """The process's shared reel-count feeds (`reels.subscriptions.live_counts.LiveCounts`)."""

    def join(
        self, reel_id: int, viewer: User | None, operation: SocketOperation
    ) -> AbstractAsyncContextManager[CountsMember]: ...


# Set by the socket handler while strawberry creates an operation's task, so the resolver
# running in that task knows which socket operation it serves (None: not on a websocket).
CURRENT_OPERATION: ContextVar[SocketOperation | None] = ContextVar("reels_socket_operation", default=None)

# Set in the task of a subscription (reels.schema.reads): its reads follow events about writes
# that a replica may not have replayed yet, so they all go to the primary. Per task, so the
# queries the same socket serves meanwhile still read a replica.
READS_FROM_PRIMARY: ContextVar[bool] = ContextVar("reels_reads_from_primary", default=False)


@dataclass
class Context:
    platform: Platform
    viewer: User | None
    live_counts: LiveCountFeeds  # the app's reel-count feeds, shared by its subscribers
    request: Any = None
    response: Any = None
    # The verified token the viewer signed in with (what `logout` revokes).
    access_token: AccessToken | None = None
    # The client's address (through trusted proxies only): what per-address limits count.
    client_address: str = "-"
    # Filled by strawberry from the websocket `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    # Set when the request runs a mutation: from then on it reads from the primary, so what it
    # wrote is what it reads back (a replica may not have it yet).
    wrote: bool = False
    _loaders: Loaders | None = field(init=False, default=None, repr=False)
    _primary_loaders: Loaders | None = field(init=False, default=None, repr=False)

    @cached_property
    def request_id(self) -> str:
        """What an unexpected error's answer and its log line name; made only when one occurs (a
        random id per request was a few µs of every request's CPU)."""
        return uuid.uuid4().hex[:16]

    @property
    def loaders(self) -> Loaders:
        """Built on first use: many websockets never need any, and a socket lives long. A
        socket's subscriptions load from the primary, its queries from a replica: each their own."""
        if READS_FROM_PRIMARY.get():
            if self._primary_loaders is None:
                self._primary_loaders = Loaders(self.platform, self.viewer, self.reads)
            return self._primary_loaders
        if self._loaders is None:
            self._loaders = Loaders(self.platform, self.viewer, self.reads)
        return self._loaders

    @property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        """Where this request's reads go: a replica that keeps up until the request writes; from
        then on the primary, so that each read sees what the request wrote. A subscription's reads
        all go to the primary."""
        if self.wrote or READS_FROM_PRIMARY.get():
            return self.platform.primary_reads
        return self.platform.reads()

    def will_write(self) -> None:
        self.wrote = True
        self.reset_loaders()

    def reset_loaders(self) -> None:
        """Fresh loaders from the next use on: per HTTP request, and per subscription event on a
        long-lived socket (cached rows would go stale, and would stay in memory)."""
        self._loaders = None
        self._primary_loaders = None

    @property
    def playback(self) -> PlaybackUrls:
        return self.platform.playback

    @property
    def signed_in(self) -> User:
        """The viewer of a field guarded by IsAuthenticated or IsModerator (never None there)."""
        if self.viewer is None:
            raise RuntimeError("a field reading `signed_in` must be guarded by a permission class")
        return self.viewer
