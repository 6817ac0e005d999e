"""The Query root: each field reads its arguments, calls one resolver and shows the result."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from reels.resolvers import accounts, discovery, moderation, notifications, reels, social
from reels.resolvers.context import Context
from reels.schema.enums import ReportReason, ReportStatus
from reels.schema.errors import answered
from reels.schema.globalid import db_id_of, from_global_id
from reels.schema.inputs import FeedContext, feed_context_of, region_code
from reels.schema.pagination import SEARCH_PAGE, page_size
from reels.schema.permissions import ADMINS, MODERATORS, SIGNED_IN
from reels.schema.prefetch import prefetch_reels, selected_names
from reels.schema.types import (
    Audio,
    Hashtag,
    ModerationLogConnection,
    Node,
    NotificationConnection,
    Reel,
    ReelConnection,
    ReportConnection,
    User,
    UserConnection,
    node_of,
)
from reels.schema.types.analytics import Analytics
from reels.schema.types.connection import after_id, after_position
from reels.schema.types.discovery import AudioTrend, ExploreConnection, HashtagTrend
from reels.schema.types.reels import feed_connection
from reels.schema.types.users import follow_connection


@strawberry.type
class SearchResults:
    query: strawberry.Private[str]

    @strawberry.field
    async def users(self, info: Info[Context, None], first: int | None = 10) -> list[User]:
        found = await discovery.search_users(info.context, self.query, page_size(first, SEARCH_PAGE))
        return [User.from_row(row) for row in found]

    @strawberry.field
    async def hashtags(self, info: Info[Context, None], first: int | None = 10) -> list[Hashtag]:
        found = await discovery.search_hashtags(info.context, self.query, page_size(first, SEARCH_PAGE))
        return [Hashtag.from_row(row) for row in found]

    @strawberry.field
    async def audio(self, info: Info[Context, None], first: int | None = 10) -> list[Audio]:
        found = await discovery.search_audio(info.context, self.query, page_size(first, SEARCH_PAGE))
        return [Audio.from_row(row) for row in found]

    @strawberry.field(description="READY reels the viewer may see whose caption holds every word of the query.")
    async def reels(self, info: Info[Context, None], first: int | None = 10) -> list[Reel]:
        found = await discovery.search_reels(info.context, self.query, page_size(first, SEARCH_PAGE))
        return [Reel.from_row(row) for row in found]


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        """Any entity by global id; null for a malformed, unknown or invisible one."""
        parsed = from_global_id(id)
        row = await accounts.node(info.context, *parsed) if parsed else None
        if row is None:
            return None
        node: Node = node_of(row)
        return node

    @strawberry.field(description="Null for an anonymous request.")
    def viewer(self, info: Info[Context, None]) -> User | None:
        return User.from_row(info.context.viewer) if info.context.viewer else None

    @strawberry.field
    async def user(self, info: Info[Context, None], username: str) -> User | None:
        row = await accounts.user_by_username(info.context, username)
        return User.from_row(row) if row else None

    @strawberry.field
    async def reel(self, info: Info[Context, None], id: strawberry.ID) -> Reel | None:
        row = await reels.visible_reel(info.context, db_id_of(id, "Reel"))
        if row is None:
            return None
        await prefetch_reels(info, [row])
        return Reel.from_row(row)

    @strawberry.field(
        description="The personalized For You feed: candidates from follows, similar reels and regional trending, ranked per viewer. Works anonymously (trending only)."
    )
    async def feed(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        context: FeedContext | None = None,
        session_id: Annotated[
            str | None,
            strawberry.argument(
                description="An anonymous client's session id (or send the X-Reels-Session header): what it was "
                "served is left out of its next sessions."
            ),
        ] = None,
    ) -> ReelConnection:
        where = feed_context_of(context)
        page = await discovery.for_you(info.context, page_size(first), after_id(after), where, session_id)
        await prefetch_reels(info, [item.reel for item in page.items], "edges", "node")
        # Signing a page's playback URLs is most of building it: only when the query asks.
        with_playback = "playback" in selected_names(info, ("edges",))
        return feed_connection(info.context, page, after, where.device, with_playback)

    @strawberry.field(description="Reels by creators the viewer follows, newest first.")
    async def following_feed(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        page = await discovery.following_feed(info.context, page_size(first), after_id(after))
        await prefetch_reels(info, page.rows, "edges", "node")
        return ReelConnection.of(page, after)

    @strawberry.field(
        description="Reels by trending score in the region (ISO 3166-1 alpha-2; default the viewer's), then worldwide, "
        "then the newest: never empty while public READY reels exist. Up to 1,000 deep."
    )
    async def trending(
        self, info: Info[Context, None], region: str | None = None, first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        position = after_id(after)
        offset = position + 1 if position is not None else 0
        code = region_code(region, "region")
        page = await discovery.trending(info.context, code, page_size(first), offset)
        await prefetch_reels(info, page.rows, "edges", "node")
        return ReelConnection.of(page, after)

    @strawberry.field
    async def hashtag(self, info: Info[Context, None], name: str) -> Hashtag | None:
        row = await discovery.hashtag(info.context, name)
        return Hashtag.from_row(row) if row else None

    @strawberry.field
    def search(self, query: str) -> SearchResults:
        return SearchResults(query=query)

    @strawberry.field
    async def followers(
        self, info: Info[Context, None], user_id: strawberry.ID, first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        return await follow_connection(info.context, db_id_of(user_id, "User"), first, after, followers=True)

    @strawberry.field
    async def following(
        self, info: Info[Context, None], user_id: strawberry.ID, first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        return await follow_connection(info.context, db_id_of(user_id, "User"), first, after, followers=False)

    @strawberry.field(
        description="Creators followed by people the viewer follows, not yet followed, ranked by how many paths lead there.",
        permission_classes=SIGNED_IN,
    )
    async def suggested_creators(self, info: Info[Context, None], first: int | None = 10) -> list[User]:
        return [
            User.from_row(row) for row in await social.suggested_creators(info.context, page_size(first, SEARCH_PAGE))
        ]

    @strawberry.field(
        description="The viewer's notifications, newest first, read or not: what a client that was away missed.",
        permission_classes=SIGNED_IN,
    )
    async def notifications(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> NotificationConnection:
        page = await notifications.inbox(info.context, page_size(first), after_id(after))
        return NotificationConnection.of(page, after, total_count=await notifications.count(info.context))

    @strawberry.field(
        description="Reels an automated check or enough reports HELD for review, newest first. Moderators and "
        "admins only; FORBIDDEN error for anyone else.",
        permission_classes=MODERATORS,
    )
    async def held_reels(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        return ReelConnection.of(await moderation.held_reels(info.context, page_size(first), after_id(after)), after)

    @strawberry.field(
        description="Moderators and admins only; FORBIDDEN error for anyone else.", permission_classes=MODERATORS
    )
    async def reports(
        self,
        info: Info[Context, None],
        status: ReportStatus | None = ReportStatus.OPEN,
        first: int | None = 20,
        after: str | None = None,
        reason: ReportReason | None = None,
    ) -> ReportConnection:
        page = await moderation.reports(
            info.context, status or ReportStatus.OPEN, reason, page_size(first), after_position(after, parts=2)
        )
        return ReportConnection.of(page, after)

    @strawberry.field(
        description="Hashtags whose use grows fastest (uses halved every 6 hours, at least 3 in 48 hours), "
        "of creators in `region` (ISO 3166-1 alpha-2) or everywhere."
    )
    async def trending_hashtags(
        self, info: Info[Context, None], region: str | None = None, first: int | None = 20
    ) -> list[HashtagTrend]:
        trends = await answered(discovery.trending_hashtags(info.context, region, page_size(first)))
        return [HashtagTrend.from_row(trend) for trend in trends]

    @strawberry.field(description="Sounds whose use grows fastest, as trendingHashtags ranks hashtags.")
    async def trending_audio(
        self, info: Info[Context, None], region: str | None = None, first: int | None = 20
    ) -> list[AudioTrend]:
        trends = await answered(discovery.trending_audio(info.context, region, page_size(first)))
        return [AudioTrend.from_row(trend) for trend in trends]

    @strawberry.field(
        description="Trending reels mixed with trending hashtags and, signed in, suggested creators (two hops "
        "out in the follow graph); `context.region` narrows the trends to a region."
    )
    async def explore(
        self,
        info: Info[Context, None],
        first: int | None = 20,
        after: str | None = None,
        context: FeedContext | None = None,
    ) -> ExploreConnection:
        region = context.region if context is not None else None
        page = await answered(discovery.explore(info.context, region, page_size(first), after_id(after)))
        return ExploreConnection.of(page, after)

    @strawberry.field(
        description="Every moderator action and automated check's decision, newest first; nothing edits it. "
        "Admins only; FORBIDDEN error for anyone else.",
        permission_classes=ADMINS,
    )
    async def moderation_log(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> ModerationLogConnection:
        page = await moderation.moderation_log(info.context, page_size(first), after_id(after))
        return ModerationLogConnection.of(page, after)

    @strawberry.field(
        description="What the scheduled analytics jobs computed. Admins only; FORBIDDEN error for anyone else.",
        permission_classes=ADMINS,
    )
    def analytics(self) -> Analytics:
        return Analytics()
