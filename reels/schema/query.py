"""The Query root: each field delegates to a resolver module."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from reels.resolvers import accounts, discovery, moderation, reels, social
from reels.schema.context import Context
from reels.schema.enums import ReportStatus
from reels.schema.inputs import FeedContext
from reels.schema.pagination import SEARCH_PAGE, page_size
from reels.schema.permissions import MODERATORS, SIGNED_IN
from reels.schema.types import (
    Audio,
    Hashtag,
    Node,
    Reel,
    ReelConnection,
    ReportConnection,
    User,
    UserConnection,
)


@strawberry.type
class SearchResults:
    query: strawberry.Private[str]

    @strawberry.field
    async def users(self, info: Info[Context, None], first: int | None = 10) -> list[User]:
        return await discovery.search_users(info, self.query, page_size(first, SEARCH_PAGE))

    @strawberry.field
    async def hashtags(self, info: Info[Context, None], first: int | None = 10) -> list[Hashtag]:
        return await discovery.search_hashtags(info, self.query, page_size(first, SEARCH_PAGE))

    @strawberry.field
    async def audio(self, info: Info[Context, None], first: int | None = 10) -> list[Audio]:
        return await discovery.search_audio(info, self.query, page_size(first, SEARCH_PAGE))


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return await accounts.node(info, id)

    @strawberry.field(description="Null for an anonymous request.")
    def viewer(self, info: Info[Context, None]) -> User | None:
        return accounts.viewer(info)

    @strawberry.field
    async def user(self, info: Info[Context, None], username: str) -> User | None:
        return await accounts.user_by_username(info, username)

    @strawberry.field
    async def reel(self, info: Info[Context, None], id: strawberry.ID) -> Reel | None:
        return await reels.reel_by_global_id(info, id)

    @strawberry.field(
        description="The personalized For You feed: candidates from follows, similar reels and regional trending, ranked per viewer. Works anonymously (trending only)."
    )
    async def feed(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        context: FeedContext | None = None,
    ) -> ReelConnection:
        return await discovery.recent_public_reels(info, page_size(first), after)

    @strawberry.field(description="Reels by creators the viewer follows, newest first.")
    async def following_feed(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        return await discovery.following_feed(info, page_size(first), after)

    @strawberry.field
    async def trending(
        self, info: Info[Context, None], region: str | None = None, first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        return await discovery.recent_public_reels(info, page_size(first), after)

    @strawberry.field
    async def hashtag(self, info: Info[Context, None], name: str) -> Hashtag | None:
        return await discovery.hashtag(info, name)

    @strawberry.field
    def search(self, query: str) -> SearchResults:
        return SearchResults(query=query)

    @strawberry.field
    async def followers(
        self, info: Info[Context, None], user_id: strawberry.ID, first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        return await social.followers(info, user_id, page_size(first), after)

    @strawberry.field
    async def following(
        self, info: Info[Context, None], user_id: strawberry.ID, first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        return await social.following(info, user_id, page_size(first), after)

    @strawberry.field(
        description="Creators followed by people the viewer follows, not yet followed, ranked by how many paths lead there.",
        permission_classes=SIGNED_IN,
    )
    async def suggested_creators(self, info: Info[Context, None], first: int | None = 10) -> list[User]:
        return await social.suggested_creators(info, page_size(first, SEARCH_PAGE))

    @strawberry.field(
        description="Moderators and admins only; FORBIDDEN error for anyone else.", permission_classes=MODERATORS
    )
    async def reports(
        self,
        info: Info[Context, None],
        status: ReportStatus | None = ReportStatus.OPEN,
        first: int | None = 20,
        after: str | None = None,
    ) -> ReportConnection:
        return await moderation.reports(info, status or ReportStatus.OPEN, page_size(first), after)
