"""GraphQL enums: the domain's enums, exposed under the contract's names."""

from __future__ import annotations

from enum import Enum

import strawberry

from reels.domain import models

Role = strawberry.enum(models.Role)
ReelStatus = strawberry.enum(models.ReelStatus)
Visibility = strawberry.enum(models.Visibility)
ReportReason = strawberry.enum(models.ReportReason)
ReportStatus = strawberry.enum(models.ReportStatus)
NotificationKind = strawberry.enum(models.NotificationKind)


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
