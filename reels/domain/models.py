"""SQLAlchemy models: the relational source of truth.

Ids are Snowflakes (BigInteger) generated in the application, so rows can be created on any
server of any region without a database sequence. Times are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from reels.db import Base
from reels.domain.ids import new_id

BIO_MAX_CHARS = 160


def utcnow() -> datetime:
    return datetime.now(UTC)


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native PostgreSQL enum): adding a value needs no migration
    # lock, and SQLite and PostgreSQL behave alike.
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


def _id() -> Mapped[int]:
    return mapped_column(BigInteger, primary_key=True, default=new_id, autoincrement=False)


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


class Role(enum.StrEnum):
    USER = "USER"
    MODERATOR = "MODERATOR"
    ADMIN = "ADMIN"


class ReelStatus(enum.StrEnum):
    INIT = "INIT"
    UPLOADED = "UPLOADED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"
    BLOCKED = "BLOCKED"
    # Processed, but an automated check wants a moderator's look first (RESTORE makes it READY).
    HELD = "HELD"


class Visibility(enum.StrEnum):
    PUBLIC = "PUBLIC"
    FOLLOWERS = "FOLLOWERS"
    PRIVATE = "PRIVATE"


class ReportReason(enum.StrEnum):
    SPAM = "SPAM"
    NUDITY = "NUDITY"
    VIOLENCE = "VIOLENCE"
    HATE = "HATE"
    COPYRIGHT = "COPYRIGHT"
    OTHER = "OTHER"


class ReportStatus(enum.StrEnum):
    OPEN = "OPEN"
    ACTIONED = "ACTIONED"
    DISMISSED = "DISMISSED"


class NotificationKind(enum.StrEnum):
    NEW_REEL = "NEW_REEL"
    FOLLOWED = "FOLLOWED"
    LIKED = "LIKED"
    COMMENTED = "COMMENTED"
    REEL_READY = "REEL_READY"
    REEL_FAILED = "REEL_FAILED"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = _id()
    # Stored lower-cased: usernames are unique case-insensitively.
    username: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(60), nullable=False)
    bio: Mapped[str] = mapped_column(String(BIO_MAX_CHARS), default="", server_default="", nullable=False)
    # ISO 3166-1 alpha-2, upper-case; the creator's region for regional trending.
    region: Mapped[str | None] = mapped_column(String(2))
    # The object-store key of the avatar (`keys.avatar_key`) and the reel it was taken from
    # (blocking that reel takes the avatar away); None: no avatar.
    avatar_key: Mapped[str | None] = mapped_column(String(200))
    avatar_reel_id: Mapped[int | None] = mapped_column(BigInteger)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.USER, nullable=False)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    # Set when the account's view rate was implausible; its views stop counting.
    views_flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created_at()
    # Set by the engagement scoring job (reels.domain.integrity): the account's likes, views
    # and comments are left out of every reel's counts until a moderator clears the flag.
    engagement_flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    engagement_flag_reason: Mapped[str | None] = mapped_column(Text)
    # When a moderator last cleared the flag: the scoring job judges only what came after.
    engagement_cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedToken(Base):
    """An access token refused before it expires (logout), kept until it would have expired
    (maintenance deletes it then). In the database rather than the cache: the account read that
    every signed-in request makes answers both questions in one round trip, and losing the
    cache cannot bring a logged-out token back."""

    __tablename__ = "revoked_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)


class Audio(Base):
    __tablename__ = "audio"

    id: Mapped[int] = _id()
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # Reel whose sound this was first; no FK cycle with reels.audio_id, checked in the domain.
    original_reel_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    storage_key: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    use_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[datetime] = _created_at()


class Reel(Base):
    __tablename__ = "reels"
    __table_args__ = (
        Index("ix_reels_creator_id_id", "creator_id", "id"),
        Index("ix_reels_status_id", "status", "id"),
    )

    id: Mapped[int] = _id()
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    caption: Mapped[str] = mapped_column(Text, default="", nullable=False)
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility), default=Visibility.PUBLIC, nullable=False)
    status: Mapped[ReelStatus] = mapped_column(_enum(ReelStatus), default=ReelStatus.INIT, nullable=False)
    status_reason: Mapped[str | None] = mapped_column(Text)
    audio_id: Mapped[int | None] = mapped_column(ForeignKey("audio.id", ondelete="SET NULL"), index=True)
    region: Mapped[str | None] = mapped_column(String(2))
    # Media facts, filled by the worker.
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    media: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # codecs, bitrates, renditions, storage keys
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Upload(Base):
    """One multipart upload of a reel's source file into the object store."""

    __tablename__ = "uploads"

    upload_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    reel_id: Mapped[int] = mapped_column(ForeignKey("reels.id", ondelete="CASCADE"), unique=True, nullable=False)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    object_key: Mapped[str] = mapped_column(String(500), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    part_size: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = _created_at()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The title the creator gave the upload's own sound; it becomes the Audio's title at processing.
    audio_title: Mapped[str | None] = mapped_column(String(200))


class Hashtag(Base):
    __tablename__ = "hashtags"

    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)  # lower-case, no '#'
    reel_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[datetime] = _created_at()


class ReelHashtag(Base):
    __tablename__ = "reel_hashtags"

    reel_id: Mapped[int] = mapped_column(
        ForeignKey("reels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    hashtag_id: Mapped[int] = mapped_column(ForeignKey("hashtags.id", ondelete="CASCADE"), primary_key=True, index=True)


class Like(Base):
    """The truth about likes: one row per (reel, user); counts are aggregated from events."""

    __tablename__ = "likes"
    # Likes have no Snowflake id to range over by time: what the scoring and analytics jobs read.
    __table_args__ = (Index("ix_likes_created_at", "created_at"),)

    reel_id: Mapped[int] = mapped_column(
        ForeignKey("reels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = _created_at()


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_reel_id_id", "reel_id", "id"),)

    id: Mapped[int] = _id()
    reel_id: Mapped[int] = mapped_column(ForeignKey("reels.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created_at()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReelCounts(Base):
    """Aggregated counts, written in batches by the engagement aggregator."""

    __tablename__ = "reel_counts"

    reel_id: Mapped[int] = mapped_column(
        ForeignKey("reels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    likes: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    views: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    comments: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    shares: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    # What flagged accounts contributed to the counts above (reels.domain.integrity): the counts
    # served are the difference. The events stay counted, so clearing a flag restores them.
    excluded_likes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", nullable=False)
    excluded_views: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", nullable=False)
    excluded_comments: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", nullable=False)


class AggregatorOffset(Base):
    """Per-partition high-water mark of applied engagement events (exactly-once effect), and
    the lease epoch of the aggregator that wrote it: a newer owner fences off an older one."""

    __tablename__ = "aggregator_offsets"

    partition: Mapped[str] = mapped_column(String(100), primary_key=True)
    high_water: Mapped[str] = mapped_column(String(60), nullable=False)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)


class WatchEvent(Base):
    """Every recordView call, counted or not: what the ranker learns from."""

    __tablename__ = "watch_events"
    __table_args__ = (
        Index("ix_watch_events_reel_id_created_at", "reel_id", "created_at"),
        # The history in time order, a page at a time (`reels features rebuild`).
        Index("ix_watch_events_created_at_id", "created_at", "id"),
    )

    id: Mapped[int] = _id()
    reel_id: Mapped[int] = mapped_column(ForeignKey("reels.id", ondelete="CASCADE"), nullable=False)
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(100))
    watched_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    completed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    counted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # network, device, region, position in feed
    created_at: Mapped[datetime] = _created_at()


class ReelFingerprint(Base):
    """A processed reel's perceptual fingerprint (reels.moderation), kept so that blocking the
    reel lets the re-upload check match copies of it at once, without sampling it again."""

    __tablename__ = "reel_fingerprints"

    reel_id: Mapped[int] = mapped_column(
        ForeignKey("reels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


OPEN_REPORTS_ONLY = "status = 'OPEN'"


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_status_id", "status", "id"),
        # One open report per reporter and reel: reporting again is a no-op.
        Index(
            "uq_reports_open_reporter_reel",
            "reel_id",
            "reporter_id",
            unique=True,
            postgresql_where=sql_text(OPEN_REPORTS_ONLY),
            sqlite_where=sql_text(OPEN_REPORTS_ONLY),
        ),
    )

    id: Mapped[int] = _id()
    reel_id: Mapped[int] = mapped_column(ForeignKey("reels.id", ondelete="CASCADE"), nullable=False, index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    reason: Mapped[ReportReason] = mapped_column(_enum(ReportReason), nullable=False)
    details: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus), default=ReportStatus.OPEN, nullable=False)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


class AuditAction(enum.StrEnum):
    """What a moderation log entry records."""

    BLOCK_REEL = "BLOCK_REEL"
    RESTORE_REEL = "RESTORE_REEL"
    HOLD_REEL = "HOLD_REEL"
    REPORT_ACTIONED = "REPORT_ACTIONED"
    REPORT_DISMISSED = "REPORT_DISMISSED"
    SUSPEND_USER = "SUSPEND_USER"
    SET_ROLE = "SET_ROLE"
    FLAG_ENGAGEMENT = "FLAG_ENGAGEMENT"
    CLEAR_ENGAGEMENT_FLAG = "CLEAR_ENGAGEMENT_FLAG"


class ModerationLog(Base):
    """Who did what to which reel or user, and why: the audit trail of moderator actions and
    automated checks. Written only by the domain commands that act; nothing edits it."""

    __tablename__ = "moderation_log"

    id: Mapped[int] = _id()
    # The moderator or admin who acted; null for an automated check (named in `check_name`).
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    check_name: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    reel_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created_at()


NEW_REEL_ONLY = "kind = 'NEW_REEL'"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_id", "user_id", "id"),
        # One NEW_REEL per follower and reel, however many times (or at once) the fan-out runs.
        Index(
            "uq_notifications_new_reel",
            "user_id",
            "reel_id",
            unique=True,
            postgresql_where=sql_text(NEW_REEL_ONLY),
            sqlite_where=sql_text(NEW_REEL_ONLY),
        ),
    )

    id: Mapped[int] = _id()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reel_id: Mapped[int | None] = mapped_column(ForeignKey("reels.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = _created_at()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AnalyticsDay(Base):
    """One day's totals (reels.domain.analytics): new accounts and reels, engagement, reports."""

    __tablename__ = "analytics_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    new_users: Mapped[int] = mapped_column(BigInteger, nullable=False)
    new_reels: Mapped[int] = mapped_column(BigInteger, nullable=False)
    views: Mapped[int] = mapped_column(BigInteger, nullable=False)
    watch_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    likes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    comments: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reports: Mapped[int] = mapped_column(BigInteger, nullable=False)


class AnalyticsCreatorDay(Base):
    """Watch time of each creator's reels on one day."""

    __tablename__ = "analytics_creator_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    creator_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    watch_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    views: Mapped[int] = mapped_column(BigInteger, nullable=False)


class AnalyticsHashtagDay(Base):
    """How many reels used a hashtag on one day, and the views of reels carrying it."""

    __tablename__ = "analytics_hashtag_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hashtag_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    reels: Mapped[int] = mapped_column(BigInteger, nullable=False)
    views: Mapped[int] = mapped_column(BigInteger, nullable=False)


class AnalyticsSoundDay(Base):
    """How many reels used a sound on one day, and the views of reels playing it."""

    __tablename__ = "analytics_sound_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    audio_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    reels: Mapped[int] = mapped_column(BigInteger, nullable=False)
    views: Mapped[int] = mapped_column(BigInteger, nullable=False)


class AnalyticsReportDay(Base):
    """Reports filed on one day for one reason, and how many reels they concern."""

    __tablename__ = "analytics_report_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[ReportReason] = mapped_column(_enum(ReportReason), primary_key=True)
    reports: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reels: Mapped[int] = mapped_column(BigInteger, nullable=False)


class JobRun(Base):
    """Where each scheduled job (reels.workers.jobs) got to: a run starts again from the day
    after `done_through`, so a job that stopped half-way resumes where it stopped."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    done_through: Mapped[date | None] = mapped_column(Date)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FeedImpression(Base):
    """A reel a For You page served: where in the session's list, from which source, with what
    score. Training joins these with the watch events (a served reel never watched is a negative)."""

    __tablename__ = "feed_impressions"
    __table_args__ = (Index("ix_feed_impressions_reel_id_created_at", "reel_id", "created_at"),)

    id: Mapped[int] = _id()
    reel_id: Mapped[int] = mapped_column(ForeignKey("reels.id", ondelete="CASCADE"), nullable=False)
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(100))  # an anonymous client's
    feed_session: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the list's session number
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[datetime] = _created_at()
