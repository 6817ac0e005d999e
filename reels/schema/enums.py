"""GraphQL enums: the domain's enums, exposed under the contract's names."""

from __future__ import annotations

from enum import Enum

import strawberry

from reels.domain import feed_sessions, models

# strawberry.enum marks the class itself as a GraphQL enum, so the names below are the domain's
# own classes (and valid in annotations).
for _domain_enum in (
    models.Role,
    models.ReelStatus,
    models.Visibility,
    models.ReportReason,
    models.ReportStatus,
    models.NotificationKind,
    models.AuditAction,
):
    strawberry.enum(_domain_enum)

Role = models.Role
ReelStatus = models.ReelStatus
Visibility = models.Visibility
ReportReason = models.ReportReason
ReportStatus = models.ReportStatus
NotificationKind = models.NotificationKind
AuditAction = models.AuditAction


@strawberry.enum
class ModerationAction(Enum):
    BLOCK = "BLOCK"
    RESTORE = "RESTORE"


@strawberry.enum
class NetworkType(Enum):
    SLOW = "SLOW"
    MEDIUM = "MEDIUM"
    FAST = "FAST"


@strawberry.enum
class DeviceClass(Enum):
    LOW = "LOW"
    MID = "MID"
    HIGH = "HIGH"


@strawberry.enum(description="The order of a hashtag's or a sound's reels.")
class ReelSort(Enum):
    RECENT = "RECENT"
    POPULAR = "POPULAR"


strawberry.enum(
    feed_sessions.Source,
    name="FeedSource",
    description="Where a For You reel came from: a followed creator, reels like the viewer's, trending, or new.",
)
FeedSource = feed_sessions.Source
