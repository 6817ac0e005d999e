"""Fake engagement: accounts whose likes and views look scripted are flagged, and what they
contributed is left out of every reel's counts until a moderator clears the flag.

A scheduled job (`engagement_scoring`, reels.workers.jobs) reads the last SCORING_WINDOW_S of
likes and watches and flags, with the reason in the moderation log:
- bursts: BURST_MIN or more engagements by one account within BURST_WINDOW_S;
- identical watch times: IDENTICAL_WATCH_MIN or more unfinished watches of exactly the same
  length (a person's thumb is never that regular; a script's sleep is);
- lockstep: new accounts (younger than NEW_ACCOUNT_S) that like a reel within
  LOCKSTEP_WINDOW_S of LOCKSTEP_MIN_ACCOUNTS - 1 other new accounts, on LOCKSTEP_MIN_REELS or
  more reels.

Nothing is deleted: the likes, watches and comments stay, and the aggregator goes on counting
them. `reel_counts.excluded_*` hold what flagged accounts contributed to each reel, recounted
from the rows whenever a flag is set or cleared (and on every run for the reels flagged
accounts touched since), and the counts served are the difference (reels.domain.counts).
Shares are not stored per account, so they cannot be told apart and are not excluded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reels.domain import audit
from reels.domain.counts import SERVED_COLUMNS, cache_counts, served
from reels.domain.errors import DomainError, ErrorCode, invalid, not_found
from reels.domain.events import ReelCountsChanged
from reels.domain.ids import first_id_at
from reels.domain.models import AuditAction, Comment, JobRun, Like, ReelCounts, User, WatchEvent
from reels.domain.unit_of_work import UnitOfWork, unit_of_work
from reels.ports.kv import KeyValue
from reels.ports.pubsub import PubSub
from reels.ports.queue import WorkQueue

JOB = "engagement_scoring"
SCORING_WINDOW_S = 3600
BURST_WINDOW_S = 10
BURST_MIN = 15
IDENTICAL_WATCH_MIN = 8
NEW_ACCOUNT_S = 7 * 24 * 3600
LOCKSTEP_WINDOW_S = 60
LOCKSTEP_MIN_ACCOUNTS = 5
LOCKSTEP_MIN_REELS = 2
REASON_MAX = 2000


@dataclass(frozen=True)
class Engagement:
    """A like (`watched_ms` None) or a watch by a signed-in account, at Unix time `at`."""

    user_id: int
    reel_id: int
    at: float
    account_age_s: float
    watched_ms: int | None = None
    completed: bool = False


def suspicious(engagements: Sequence[Engagement]) -> dict[int, str]:
    """The accounts whose engagements look scripted, each with the reason a moderator reads."""
    reasons: dict[int, str] = {}
    by_user: dict[int, list[Engagement]] = defaultdict(list)
    for engagement in engagements:
        by_user[engagement.user_id].append(engagement)
    for user_id, own in by_user.items():
        most = _most_within([e.at for e in own], BURST_WINDOW_S)
        if most >= BURST_MIN:
            reasons[user_id] = f"{most} likes and views within {BURST_WINDOW_S} s"
            continue
        lengths = Counter(e.watched_ms for e in own if e.watched_ms is not None and not e.completed)
        if lengths:
            length, times = lengths.most_common(1)[0]
            if times >= IDENTICAL_WATCH_MIN:
                reasons[user_id] = f"{times} unfinished watches of exactly {length} ms"
    in_step: dict[int, set[int]] = defaultdict(set)  # account -> reels it liked in step with others
    new_likes: dict[int, list[Engagement]] = defaultdict(list)
    for engagement in engagements:
        if engagement.watched_ms is None and engagement.account_age_s < NEW_ACCOUNT_S:
            new_likes[engagement.reel_id].append(engagement)
    for reel_id, likes in new_likes.items():
        likes.sort(key=lambda e: e.at)
        start = 0
        for end, like in enumerate(likes):
            while like.at - likes[start].at > LOCKSTEP_WINDOW_S:
                start += 1
            group = {e.user_id for e in likes[start : end + 1]}
            if len(group) >= LOCKSTEP_MIN_ACCOUNTS:
                for user_id in group:
                    in_step[user_id].add(reel_id)
    for user_id, reels in in_step.items():
        if len(reels) >= LOCKSTEP_MIN_REELS and user_id not in reasons:
            reasons[user_id] = (
                f"a new account that liked {len(reels)} reels within {LOCKSTEP_WINDOW_S} s of "
                f"at least {LOCKSTEP_MIN_ACCOUNTS - 1} other new accounts"
            )
    return reasons


def _most_within(times: list[float], window_s: float) -> int:
    """The most of `times` that fall within one span of `window_s`."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > window_s:
            start += 1
        most = max(most, end - start + 1)
    return most


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _recent(session: AsyncSession, since: datetime) -> list[Engagement]:
    """The window's likes and signed-in watches, each after its account's last cleared flag."""
    likes = await session.execute(
        select(Like.user_id, Like.reel_id, Like.created_at, User.created_at, User.engagement_cleared_at)
        .join(User, User.id == Like.user_id)
        .where(Like.created_at >= since)
    )
    watches = await session.execute(
        select(
            WatchEvent.viewer_id,
            WatchEvent.reel_id,
            WatchEvent.created_at,
            User.created_at,
            User.engagement_cleared_at,
            WatchEvent.watched_ms,
            WatchEvent.completed,
        )
        .join(User, User.id == WatchEvent.viewer_id)
        .where(WatchEvent.id >= first_id_at(int(since.timestamp() * 1000)))
    )
    found = []
    for user_id, reel_id, at, joined, cleared in likes.all():
        if (engagement := _engagement(user_id, reel_id, at, joined, cleared)) is not None:
            found.append(engagement)
    for viewer_id, reel_id, at, joined, cleared, watched_ms, completed in watches.all():
        assert viewer_id is not None  # joined to its account
        if (engagement := _engagement(viewer_id, reel_id, at, joined, cleared)) is not None:
            found.append(replace(engagement, watched_ms=watched_ms, completed=completed))
    return found


def _engagement(
    user_id: int, reel_id: int, at: datetime, joined: datetime, cleared: datetime | None
) -> Engagement | None:
    """None when it came before a moderator cleared the account's flag."""
    at, joined = _utc(at), _utc(joined)
    if cleared is not None and at <= _utc(cleared):
        return None
    return Engagement(user_id, reel_id, at.timestamp(), (at - joined).total_seconds())


def _flagged() -> ColumnElement[bool]:
    return User.engagement_flagged_at.is_not(None)


async def _reels_engaged_by(
    session: AsyncSession, users: ColumnElement[bool], since: datetime | None = None
) -> set[int]:
    """The reels whose counts hold a like, counted view or comment of the `users` (a condition)."""
    likes = select(Like.reel_id).join(User, User.id == Like.user_id).where(users)
    views = select(WatchEvent.reel_id).join(User, User.id == WatchEvent.viewer_id).where(users, WatchEvent.counted)
    comments = select(Comment.reel_id).join(User, User.id == Comment.author_id).where(users)
    if since is not None:
        likes = likes.where(Like.created_at >= since)
        since_id = first_id_at(int(since.timestamp() * 1000))
        views = views.where(WatchEvent.id >= since_id)
        comments = comments.where(Comment.id >= since_id)
    return set((await session.scalars(select(union(likes, views, comments).subquery().c[0]))).all())


async def recount(work: UnitOfWork, reel_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Count again what flagged accounts contributed to each reel, and stage the corrected counts'
    event; returns the counts to cache once committed."""
    if not reel_ids:
        return {}
    flagged_users = select(User.id).where(_flagged())
    excluded_likes = (
        select(func.count())
        .where(Like.reel_id == ReelCounts.reel_id, Like.user_id.in_(flagged_users))
        .scalar_subquery()
    )
    excluded_views = (
        select(func.count())
        .where(WatchEvent.reel_id == ReelCounts.reel_id, WatchEvent.counted, WatchEvent.viewer_id.in_(flagged_users))
        .scalar_subquery()
    )
    excluded_comments = (
        select(func.count())
        .where(
            Comment.reel_id == ReelCounts.reel_id, Comment.deleted_at.is_(None), Comment.author_id.in_(flagged_users)
        )
        .scalar_subquery()
    )
    await work.session.execute(
        update(ReelCounts)
        .where(ReelCounts.reel_id.in_(list(reel_ids)))
        .values(excluded_likes=excluded_likes, excluded_views=excluded_views, excluded_comments=excluded_comments)
        .execution_options(synchronize_session=False)
    )
    rows = await work.session.execute(
        select(ReelCounts.reel_id, *SERVED_COLUMNS).where(ReelCounts.reel_id.in_(list(reel_ids)))
    )
    totals = {reel_id: served(values) for reel_id, *values in rows.all()}
    for reel_id, counts in totals.items():
        work.publish(ReelCountsChanged(reel_id, counts))
    return totals


async def score(
    sessions: async_sessionmaker[AsyncSession], kv: KeyValue, queue: WorkQueue, bus: PubSub, *, now: datetime
) -> int:
    """One run of the scoring job: flag what looks scripted, recount the reels flagged accounts
    touched. Returns how many accounts it flagged."""
    since = now - timedelta(seconds=SCORING_WINDOW_S)
    async with unit_of_work(sessions, queue, bus) as work:
        reasons = suspicious(await _recent(work.session, since))
        newly = []
        for user_id, reason in reasons.items():
            flagged = await work.session.scalar(
                update(User)
                .where(User.id == user_id, User.engagement_flagged_at.is_(None))
                .values(engagement_flagged_at=now, engagement_flag_reason=reason)
                .returning(User.id)
            )
            if flagged is not None:
                newly.append(user_id)
                audit.record(
                    work.session, AuditAction.FLAG_ENGAGEMENT, reason, check=audit.ENGAGEMENT_CHECK, user_id=user_id
                )
        reels = await _reels_engaged_by(work.session, _flagged(), since)
        if newly:
            reels |= await _reels_engaged_by(work.session, User.id.in_(newly))
        totals = await recount(work, reels)
        await work.session.merge(JobRun(name=JOB, last_run_at=now))
    await cache_counts(kv, totals)
    return len(newly)


async def clear_flag(
    sessions: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    queue: WorkQueue,
    bus: PubSub,
    moderator: User,
    user_id: int | None,
    reason: str,
) -> User:
    """A moderator finds the account genuine: its flags are lifted, what it liked, watched and
    wrote counts again, and the scoring job judges only what it does from now on."""
    why = reason.strip()
    if not why:
        raise invalid("a reason is required", "reason")
    if len(why) > REASON_MAX:
        raise DomainError(ErrorCode.TOO_LONG, f"limited to {REASON_MAX} characters", "reason")
    async with unit_of_work(sessions, queue, bus) as work:
        user = await work.session.get(User, user_id) if user_id is not None else None
        if user is None:
            raise not_found("user", "user_id")
        if user.engagement_flagged_at is None and user.views_flagged_at is None:
            raise invalid("this account is not flagged", "user_id")
        user.engagement_flagged_at = user.engagement_flag_reason = user.views_flagged_at = None
        user.engagement_cleared_at = datetime.now(UTC)
        audit.record(work.session, AuditAction.CLEAR_ENGAGEMENT_FLAG, why, by=moderator, user_id=user.id)
        await work.session.flush()
        totals = await recount(work, await _reels_engaged_by(work.session, User.id == user.id))
    await cache_counts(kv, totals)
    return user
