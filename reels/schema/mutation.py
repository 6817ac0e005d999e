"""The Mutation root: one `input`, one payload with `userErrors`."""

from __future__ import annotations

import strawberry

from reels.resolvers import accounts, engagement, moderation, social, uploads
from reels.schema.permissions import MODERATORS, SIGNED_IN


@strawberry.type
class Mutation:
    register = strawberry.mutation(resolver=accounts.register)
    login = strawberry.mutation(resolver=accounts.login)

    create_upload = strawberry.mutation(resolver=uploads.create_upload, permission_classes=SIGNED_IN)
    resume_upload = strawberry.mutation(resolver=uploads.resume_upload, permission_classes=SIGNED_IN)
    complete_upload = strawberry.mutation(resolver=uploads.complete_upload, permission_classes=SIGNED_IN)
    delete_reel = strawberry.mutation(resolver=uploads.delete_reel, permission_classes=SIGNED_IN)

    follow = strawberry.mutation(resolver=social.follow, permission_classes=SIGNED_IN)
    unfollow = strawberry.mutation(resolver=social.unfollow, permission_classes=SIGNED_IN)
    block_user = strawberry.mutation(resolver=social.block_user, permission_classes=SIGNED_IN)
    mute_user = strawberry.mutation(resolver=social.mute_user, permission_classes=SIGNED_IN)

    like_reel = strawberry.mutation(
        resolver=engagement.like_reel, permission_classes=SIGNED_IN, description="Idempotent: liking twice counts once."
    )
    unlike_reel = strawberry.mutation(resolver=engagement.unlike_reel, permission_classes=SIGNED_IN)
    share_reel = strawberry.mutation(resolver=engagement.share_reel, permission_classes=SIGNED_IN)
    record_view = strawberry.mutation(
        resolver=engagement.record_view,
        description="Counts a view at the 3-second milestone or at completion, once per viewer and reel in a window.",
    )
    add_comment = strawberry.mutation(resolver=engagement.add_comment, permission_classes=SIGNED_IN)
    delete_comment = strawberry.mutation(resolver=engagement.delete_comment, permission_classes=SIGNED_IN)

    report_reel = strawberry.mutation(resolver=moderation.report_reel, permission_classes=SIGNED_IN)
    moderate_reel = strawberry.mutation(
        resolver=moderation.moderate_reel, permission_classes=MODERATORS, description="Moderators and admins only."
    )
    resolve_report = strawberry.mutation(resolver=moderation.resolve_report, permission_classes=MODERATORS)
    suspend_user = strawberry.mutation(resolver=moderation.suspend_user, permission_classes=MODERATORS)
