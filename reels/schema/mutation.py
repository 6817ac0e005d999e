"""The Mutation root: one `input`, one payload with `userErrors`."""

from __future__ import annotations

import strawberry

from reels.resolvers import accounts, engagement, moderation, social, uploads


@strawberry.type
class Mutation:
    register = strawberry.mutation(resolver=accounts.register)
    login = strawberry.mutation(resolver=accounts.login)

    create_upload = strawberry.mutation(resolver=uploads.create_upload)
    resume_upload = strawberry.mutation(resolver=uploads.resume_upload)
    complete_upload = strawberry.mutation(resolver=uploads.complete_upload)
    delete_reel = strawberry.mutation(resolver=uploads.delete_reel)

    follow = strawberry.mutation(resolver=social.follow)
    unfollow = strawberry.mutation(resolver=social.unfollow)
    block_user = strawberry.mutation(resolver=social.block_user)
    mute_user = strawberry.mutation(resolver=social.mute_user)

    like_reel = strawberry.mutation(resolver=engagement.like_reel, description="Idempotent: liking twice counts once.")
    unlike_reel = strawberry.mutation(resolver=engagement.unlike_reel)
    share_reel = strawberry.mutation(resolver=engagement.share_reel)
    record_view = strawberry.mutation(
        resolver=engagement.record_view,
        description="Counts a view at the 3-second milestone or at completion, once per viewer and reel in a window.",
    )
    add_comment = strawberry.mutation(resolver=engagement.add_comment)
    delete_comment = strawberry.mutation(resolver=engagement.delete_comment)

    report_reel = strawberry.mutation(resolver=moderation.report_reel)
    moderate_reel = strawberry.mutation(resolver=moderation.moderate_reel, description="Moderators and admins only.")
    resolve_report = strawberry.mutation(resolver=moderation.resolve_report)
    suspend_user = strawberry.mutation(resolver=moderation.suspend_user)
