"""Every job on the work queue and every event on pub/sub, as typed messages.

Jobs, by topic (partitioned by reel id, so one reel's jobs stay in order):

| topic | messages | consumer |
|---|---|---|
| `media` | ReelUploaded, ReplicateReel, ReelDeleted | reels.workers.media |
| `engagement` | Liked, Unliked, Shared, Commented, Uncommented, Viewed, FeedServed | reels.workers.aggregator |
| `fanout` | FanOutReel | reels.workers.fanout |
| `jobs` | RunJob (partitioned by the job's name) | reels.workers.jobs |
| `feed` | BuildFeedAhead (partitioned by the viewer) | reels.workers.feed |

Events, by channel (JSON text):

| channel | message | subscribers |
|---|---|---|
| `reel:{id}:counts` | ReelCountsChanged | live reel counts |
| `reel:{id}:status` | ReelStatusChanged | `reelStatus` |
| `user:{id}:notifications` | NotificationAdded | `notifications` |
| `user:{id}:session` | SessionChanged | every open websocket of that user, which authorizes itself again |

Each class owns its wire form: a job's `payload()` and `decode_job`, an event's `channel`,
`encode()` and `decode()`. The wire format is the one the queues and channels always carried,
so messages already queued (and the benchmarks, which write engagement payloads themselves)
still read. Consumers dispatch on the class (`match job: case ReelUploaded(): ...`).

The classes are slotted, not frozen, dataclasses: the aggregator decodes every engagement event
(tens of thousands a second), and a frozen one costs several times as much to build.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from reels.domain.models import ReelStatus
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue


class Topic(enum.StrEnum):
    MEDIA = "media"
    ENGAGEMENT = "engagement"
    FANOUT = "fanout"
    JOBS = "jobs"
    FEED = "feed"


class UnknownMessage(ValueError):
    """A payload no message class of its topic reads (a newer or broken publisher)."""


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


# --- media jobs ---------------------------------------------------------------------------


@dataclass(slots=True)
class ReelUploaded:
    """Process the reel's source: probe, transcode, READY or FAILED."""

    reel_id: int
    topic: ClassVar[Topic] = Topic.MEDIA

    def payload(self) -> dict[str, Any]:
        return {"type": "ReelUploaded", "reel_id": self.reel_id}


@dataclass(slots=True)
class ReplicateReel:
    """Copy a READY reel's media to every replica store; `ready_at` (Unix time) measures the lag."""

    reel_id: int
    ready_at: float
    topic: ClassVar[Topic] = Topic.MEDIA

    def payload(self) -> dict[str, Any]:
        return {"type": "ReplicateReel", "reel_id": self.reel_id, "ready_at": self.ready_at}


@dataclass(slots=True)
class ReelDeleted:
    """Remove a deleted reel's media and source from every store."""

    reel_id: int
    topic: ClassVar[Topic] = Topic.MEDIA

    def payload(self) -> dict[str, Any]:
        return {"type": "ReelDeleted", "reel_id": self.reel_id}


MediaJob = ReelUploaded | ReplicateReel | ReelDeleted


def _media_job(payload: Mapping[str, Any]) -> MediaJob:
    reel_id = int(payload["reel_id"])
    match payload.get("type"):
        case "ReelUploaded":
            return ReelUploaded(reel_id)
        case "ReplicateReel":
            return ReplicateReel(reel_id, float(payload["ready_at"]))
        case "ReelDeleted":
            return ReelDeleted(reel_id)
        case other:
            raise UnknownMessage(f"unknown media job type {other!r}")


# --- engagement events (what the aggregator counts) --------------------------------------


@dataclass(slots=True)
class Liked:
    reel_id: int
    user_id: int
    topic: ClassVar[Topic] = Topic.ENGAGEMENT

    def payload(self) -> dict[str, Any]:
        return {"reel_id": self.reel_id, "kind": "like", "user_id": self.user_id}


@dataclass(slots=True)
class Unliked:
    reel_id: int
    user_id: int
    topic: ClassVar[Topic] = Topic.ENGAGEMENT

    def payload(self) -> dict[str, Any]:
        return {"reel_id": self.reel_id, "kind": "unlike", "user_id": self.user_id}


@dataclass(slots=True)
class Shared:
    reel_id: int
    user_id: int
    topic: ClassVar[Topic] = Topic.ENGAGEMENT

    def payload(self) -> dict[str, Any]:
        return {"reel_id": self.reel_id, "kind": "share", "user_id": self.user_id}


@dataclass(slots=True)
class Commented:
    reel_id: int
    comment_id: int
    topic: ClassVar[Topic] = Topic.ENGAGEMENT

    def payload(self) -> dict[str, Any]:
        return {"reel_id": self.reel_id, "kind": "comment", "comment_id": self.comment_id}


@dataclass(slots=True)
class Uncommented:
    reel_id: int
    comment_id: int
    topic: ClassVar[Topic] = Topic.ENGAGEMENT

    def payload(self) -> dict[str, Any]:
        return {"reel_id": self.reel_id, "kind": "uncomment", "comment_id": self.comment_id}


@dataclass(slots=True)
class Viewed:
    """One watch, counted as a view or not; every one is stored for the ranker."""

    reel_id: int
    counted: bool
    viewer_id: int | None
    session_id: str | None
    watched_ms: int
    completed: bool
    context: Mapping[str, Any] | None
    at: str  # ISO 8601, UTC
    topic: ClassVar[Topic] = Topic.ENGAGEMENT

    def payload(self) -> dict[str, Any]:
        return {
            "reel_id": self.reel_id,
            "kind": "view",
            "counted": self.counted,
            "viewer_id": self.viewer_id,
            "session_id": self.session_id,
            "watched_ms": self.watched_ms,
            "completed": self.completed,
            "context": self.context,
            "at": self.at,
        }


@dataclass(slots=True)
class FeedServed:
    """A For You page: its reels with their position in the session's list, source and score,
    stored as impressions for training. Partitioned by the page's first reel."""

    reel_id: int
    viewer_id: int | None
    session_id: str | None
    feed_session: int
    items: list[tuple[int, int, str, float]]  # reel id, position, source, score
    at: str  # ISO 8601, UTC
    topic: ClassVar[Topic] = Topic.ENGAGEMENT

    def payload(self) -> dict[str, Any]:
        return {
            "reel_id": self.reel_id,
            "kind": "served",
            "viewer_id": self.viewer_id,
            "session_id": self.session_id,
            "feed_session": self.feed_session,
            "items": [list(item) for item in self.items],
            "at": self.at,
        }


def _served(payload: Mapping[str, Any]) -> FeedServed:
    return FeedServed(
        int(payload["reel_id"]),
        payload.get("viewer_id"),
        payload.get("session_id"),
        int(payload["feed_session"]),
        [(int(reel), int(position), str(source), float(score)) for reel, position, source, score in payload["items"]],
        payload["at"],
    )


EngagementEvent = Liked | Unliked | Shared | Commented | Uncommented | Viewed | FeedServed


def _viewed(payload: Mapping[str, Any]) -> Viewed:
    return Viewed(
        int(payload["reel_id"]),
        payload["counted"],
        payload.get("viewer_id"),
        payload.get("session_id"),
        payload["watched_ms"],
        payload["completed"],
        payload.get("context"),
        payload["at"],
    )


_ENGAGEMENT_DECODERS: dict[str, Callable[[Mapping[str, Any]], EngagementEvent]] = {
    "like": lambda p: Liked(int(p["reel_id"]), p["user_id"]),
    "unlike": lambda p: Unliked(int(p["reel_id"]), p["user_id"]),
    "share": lambda p: Shared(int(p["reel_id"]), p["user_id"]),
    "comment": lambda p: Commented(int(p["reel_id"]), p["comment_id"]),
    "uncomment": lambda p: Uncommented(int(p["reel_id"]), p["comment_id"]),
    "view": _viewed,
    "served": _served,
}


def decode_engagement_event(payload: Mapping[str, Any]) -> EngagementEvent:
    """The typed event of an `engagement` message (what the aggregator reads, per event)."""
    decoder = _ENGAGEMENT_DECODERS.get(payload.get("kind", ""))
    if decoder is None:
        raise UnknownMessage(f"unknown engagement event {payload.get('kind')!r}")
    return decoder(payload)


# --- fan-out jobs ------------------------------------------------------------------------


@dataclass(slots=True)
class FanOutReel:
    """Tell the creator's followers of a READY reel (NEW_REEL), once each."""

    reel_id: int
    topic: ClassVar[Topic] = Topic.FANOUT

    def payload(self) -> dict[str, Any]:
        return {"reel_id": self.reel_id}


# --- scheduled jobs ----------------------------------------------------------------------


@dataclass(slots=True)
class RunJob:
    """Run the scheduled job `name` (reels.workers.jobs) once: analytics, engagement scoring."""

    name: str
    topic: ClassVar[Topic] = Topic.JOBS

    def payload(self) -> dict[str, Any]:
        return {"name": self.name}


# --- feed jobs ---------------------------------------------------------------------------


@dataclass(slots=True)
class BuildFeedAhead:
    """Rank a viewer's next For You list before they ask for it (reels.domain.feed.build_ahead),
    in a worker: the API process serving their pages does no ranking of its own. `owner` is the
    viewer's feed key (a signed-in viewer's id, or an anonymous session's); `exclude` the reels of
    the list they are reading."""

    owner: str
    viewer_id: int | None
    network: str | None
    device: str | None
    region: str | None
    exclude: list[int]
    topic: ClassVar[Topic] = Topic.FEED

    def payload(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "viewer_id": self.viewer_id,
            "network": self.network,
            "device": self.device,
            "region": self.region,
            "exclude": self.exclude,
        }


def _build_feed_ahead(payload: Mapping[str, Any]) -> BuildFeedAhead:
    viewer_id = payload.get("viewer_id")
    return BuildFeedAhead(
        owner=str(payload["owner"]),
        viewer_id=int(viewer_id) if viewer_id is not None else None,
        network=payload.get("network"),
        device=payload.get("device"),
        region=payload.get("region"),
        exclude=[int(reel_id) for reel_id in payload.get("exclude", ())],
    )


Job = MediaJob | EngagementEvent | FanOutReel | RunJob | BuildFeedAhead


def decode_job(topic: str, payload: Mapping[str, Any]) -> Job:
    """The typed job of a queue message; UnknownMessage for a payload its topic has no class for."""
    match topic:
        case Topic.MEDIA:
            return _media_job(payload)
        case Topic.ENGAGEMENT:
            return decode_engagement_event(payload)
        case Topic.FANOUT:
            return FanOutReel(int(payload["reel_id"]))
        case Topic.JOBS:
            return RunJob(str(payload["name"]))
        case Topic.FEED:
            return _build_feed_ahead(payload)
        case _:
            raise UnknownMessage(f"unknown topic {topic!r}")


async def send(queue: WorkQueue, job: Job, *, lane: str = "normal") -> None:
    """Queue `job` in its reel's partition (a scheduled job: its name's; a feed job: its viewer's)."""
    match job:
        case RunJob(name=name):
            key = name
        case BuildFeedAhead(owner=owner):
            key = owner
        case _:
            key = str(job.reel_id)
    await queue.publish(job.topic, job.payload(), key=key, lane=lane)


# --- pub/sub events ----------------------------------------------------------------------


@dataclass(slots=True)
class ReelCountsChanged:
    """A reel's absolute counts after an aggregator flush: likes, views, comments, shares."""

    reel_id: int
    counts: Mapping[str, int]

    @staticmethod
    def channel_of(reel_id: int) -> str:
        return f"reel:{reel_id}:counts"

    @property
    def channel(self) -> str:
        return self.channel_of(self.reel_id)

    def encode(self) -> str:
        return _json(self.counts)

    @classmethod
    def decode(cls, reel_id: int, message: str) -> ReelCountsChanged:
        return cls(reel_id, json.loads(message))


@dataclass(slots=True)
class ReelStatusChanged:
    """A reel moved to `status`, or was deleted: subscribers read the reel again."""

    reel_id: int
    status: ReelStatus
    deleted: bool = False

    @staticmethod
    def channel_of(reel_id: int) -> str:
        return f"reel:{reel_id}:status"

    @property
    def channel(self) -> str:
        return self.channel_of(self.reel_id)

    def encode(self) -> str:
        message: dict[str, Any] = {"status": self.status.value}
        if self.deleted:
            message["deleted"] = True
        return _json(message)

    @classmethod
    def decode(cls, reel_id: int, message: str) -> ReelStatusChanged:
        body = json.loads(message)
        return cls(reel_id, ReelStatus(body["status"]), bool(body.get("deleted", False)))


@dataclass(slots=True)
class NotificationAdded:
    """A notification was stored for `user_id`; subscribers load it by id."""

    user_id: int
    notification_id: int

    @staticmethod
    def channel_of(user_id: int) -> str:
        return f"user:{user_id}:notifications"

    @property
    def channel(self) -> str:
        return self.channel_of(self.user_id)

    def encode(self) -> str:
        return _json({"id": self.notification_id})

    @classmethod
    def decode(cls, user_id: int, message: str) -> NotificationAdded:
        return cls(user_id, int(json.loads(message)["id"]))


class SessionReason(enum.StrEnum):
    SUSPENDED = "suspended"
    ROLE_CHANGED = "role_changed"
    TOKEN_REVOKED = "token_revoked"


@dataclass(slots=True)
class SessionChanged:
    """What a user's tokens allow changed (suspension, a new role, a revoked token): each open
    socket of that user, on every API process, checks its token and account again."""

    user_id: int
    reason: SessionReason

    @staticmethod
    def channel_of(user_id: int) -> str:
        return f"user:{user_id}:session"

    @property
    def channel(self) -> str:
        return self.channel_of(self.user_id)

    def encode(self) -> str:
        return _json({"reason": self.reason.value})

    @classmethod
    def decode(cls, user_id: int, message: str) -> SessionChanged:
        return cls(user_id, SessionReason(json.loads(message)["reason"]))


Event = ReelCountsChanged | ReelStatusChanged | NotificationAdded | SessionChanged


async def publish(bus: PubSub, event: Event) -> None:
    await bus.publish(event.channel, event.encode())


async def publish_many(bus: PubSub, published: Iterable[Event]) -> None:
    """`publish` each, in order, in one batch (the aggregator's counts after a flush)."""
    await bus.publish_many([(event.channel, event.encode()) for event in published])
