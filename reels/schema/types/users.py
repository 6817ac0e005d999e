"""Accounts as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry
from strawberry.types import Info

from reels.domain import models
from reels.domain.accounts import can_moderate
from reels.resolvers import accounts as resolve_accounts
from reels.resolvers import notifications as resolve_notifications
from reels.resolvers import reels as resolve
from reels.resolvers import social
from reels.resolvers.context import Context
from reels.schema.enums import Role
from reels.schema.globalid import to_global_id
from reels.schema.pagination import page_size
from reels.schema.prefetch import prefetch_reels
from reels.schema.types.connection import Node, ReelConnection, UserConnection, after_edge, after_id, shows


@strawberry.type
class EngagementFlag:
    flagged_at: datetime
    reason: str

    @classmethod
    def of(cls, row: models.User) -> EngagementFlag | None:
        if row.engagement_flagged_at is None:
            return None
        return cls(flagged_at=row.engagement_flagged_at, reason=row.engagement_flag_reason or "")


@shows(models.User)
@strawberry.type
class User(Node):
    username: str
    display_name: str
    role: Role
    created_at: datetime
    bio: str
    region: str | None = strawberry.field(description="ISO 3166-1 alpha-2, e.g. IN; null when not given.")
    db_id: strawberry.Private[int]
    avatar_key: strawberry.Private[str | None]
    avatar_reel_id: strawberry.Private[int | None]
    flag: strawberry.Private[EngagementFlag | None] = None

    @classmethod
    def from_row(cls, row: models.User) -> Self:
        return cls(
            id=strawberry.ID(to_global_id("User", row.id)),
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            created_at=row.created_at,
            bio=row.bio,
            region=row.region,
            db_id=row.id,
            avatar_key=row.avatar_key,
            avatar_reel_id=row.avatar_reel_id,
            flag=EngagementFlag.of(row),
        )

    @strawberry.field(description="A square JPEG taken from one of the user's reels; null when none was chosen.")
    async def avatar_url(self, info: Info[Context, None]) -> str | None:
        return await resolve_accounts.avatar_url(info.context, self.avatar_key, self.avatar_reel_id)

    @strawberry.field
    async def follower_count(self, info: Info[Context, None]) -> int:
        return (await info.context.loaders.follow_counts_by_user.load(self.db_id))[0]

    @strawberry.field
    async def following_count(self, info: Info[Context, None]) -> int:
        return (await info.context.loaders.follow_counts_by_user.load(self.db_id))[1]

    @strawberry.field(description="False for anonymous viewers and for the viewer's own profile.")
    async def viewer_is_following(self, info: Info[Context, None]) -> bool:
        return (await info.context.loaders.viewer_relation_to.load(self.db_id)).follows

    @strawberry.field(description="Newest first; only READY reels, plus the viewer's own reels in any status.")
    async def reels(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> ReelConnection:
        page = await resolve.reels_of_creator(info.context, self.db_id, page_size(first), after_id(after))
        await prefetch_reels(info, page.rows, "edges", "node")
        return ReelConnection.of(page, after)

    @strawberry.field(description="Most recent follow first.")
    async def followers(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        return await follow_connection(info.context, self.db_id, first, after, followers=True)

    @strawberry.field(description="Most recent follow first.")
    async def following(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        return await follow_connection(info.context, self.db_id, first, after, followers=False)

    @strawberry.field(
        description="Why the engagement scoring job flagged the account (its likes, views and comments "
        "are left out of counts until a moderator clears the flag); null when not flagged, and for "
        "anyone but moderators and admins."
    )
    def engagement_flag(self, info: Info[Context, None]) -> EngagementFlag | None:
        if self.flag is None or not can_moderate(info.context.viewer):
            return None
        return self.flag

    @strawberry.field(description="The viewer's notifications not yet marked read; null on anyone else's profile.")
    async def unread_notification_count(self, info: Info[Context, None]) -> int | None:
        if info.context.viewer is None or info.context.viewer.id != self.db_id:
            return None
        return await resolve_notifications.unread_count(info.context)

    @strawberry.field(description="Whom the viewer blocks, newest first; null on anyone else's profile.")
    async def blocked(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> UserConnection | None:
        if info.context.viewer is None or info.context.viewer.id != self.db_id:
            return None
        page, total = await social.blocked(info.context, page_size(first), after_edge(after))
        return UserConnection.of(page, after, total_count=total)

    @strawberry.field(description="Whom the viewer mutes, newest first; null on anyone else's profile.")
    async def muted(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> UserConnection | None:
        if info.context.viewer is None or info.context.viewer.id != self.db_id:
            return None
        page, total = await social.muted(info.context, page_size(first), after_edge(after))
        return UserConnection.of(page, after, total_count=total)


async def follow_connection(
    context: Context, user_id: int | None, first: int | None, after: str | None, *, followers: bool
) -> UserConnection:
    """A page of the user's followers (or of whom they follow), with the total from the cached
    follow counts; nothing at all of a user blocked either way."""
    list_of = social.followers if followers else social.following
    page = await list_of(context, user_id, page_size(first), after_edge(after))
    total = 0
    if user_id is not None and not (await context.loaders.viewer_relation_to.load(user_id)).blocked_either_way:
        follower_count, following_count = await context.loaders.follow_counts_by_user.load(user_id)
        total = follower_count if followers else following_count
    return UserConnection.of(page, after, total_count=total)
