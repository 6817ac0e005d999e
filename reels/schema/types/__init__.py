"""GraphQL object types, one module per domain. Leaves are plain attributes copied from rows;
only relations resolve, each through a per-request DataLoader or a resolver."""

from reels.schema.types.connection import (
    CommentConnection,
    ModerationLogConnection,
    Node,
    NotificationConnection,
    PageInfo,
    ReelConnection,
    ReportConnection,
    UserConnection,
    UserError,
    node_of,
)
from reels.schema.types.discovery import Audio, Hashtag
from reels.schema.types.engagement import Comment, Notification, ReelCounts
from reels.schema.types.moderation import ModerationLogEntry, Report
from reels.schema.types.reels import Playback, Reel, Rendition
from reels.schema.types.users import User

__all__ = [
    "Audio",
    "Comment",
    "CommentConnection",
    "ModerationLogConnection",
    "Hashtag",
    "ModerationLogEntry",
    "Node",
    "Notification",
    "NotificationConnection",
    "PageInfo",
    "Playback",
    "Reel",
    "ReelConnection",
    "ReelCounts",
    "Rendition",
    "Report",
    "ReportConnection",
    "User",
    "UserConnection",
    "UserError",
    "node_of",
]
