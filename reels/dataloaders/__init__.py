"""Per-request DataLoaders: every relation a query walks is fetched in one batch per level.

Built fresh for each HTTP request and for each subscription event (a websocket's context lives
as long as the socket, and cached rows would go stale). Named `<thing>_by_<key>`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import cache, cached_property, partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from reels.db import EntityRead, EntityReadByDialect, InIds, engine_of
from reels.domain import follow_counts, models, visibility
from reels.domain.counts import SERVED_COLUMNS, read_counts, served
from reels.domain.engagement import liked_by_bound_viewer
from reels.domain.popularity import popularity, with_counts

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

if TYPE_CHECKING:
    from reels.platform import Platform


def ready(loader: DataLoader[K, V], key: K, then: Callable[[V], R]) -> R:
    """`then(value)` if the request has already loaded `key` (see the page prefetches in
    reels.schema.prefetch), else an awaitable of it, which is what a field resolver returns
    (graphql-core awaits what needs it). Each awaited field costs graphql-core a task of its
    own, ~60 for a page of 20 reels; a value at hand costs none."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and future.exception() is None:
        return then(future.result())
    return cast(R, _then(loader.load(key), then))


async def _then(pending: Awaitable[V], then: Callable[[V], R]) -> R:
    return then(await pending)


def _in_order(keys: Sequence[K], found: dict[K, V], default: Any = None) -> list[V]:
    return [found.get(key, default) for key in keys]


class Relation(NamedTuple):
    """How the viewer stands to one user (all False for an anonymous viewer). Mutes are left
    out: they hide a creator from the viewer's feeds (reels.domain.feed), not from what a
    loader serves."""

    follows: bool
    blocked_either_way: bool


NO_RELATION = Relation(follows=False, blocked_either_way=False)

_HASHTAG_LINK = (models.ReelHashtag, models.ReelHashtag.reel_id == models.Reel.id)  # a reel to its hashtags

# Hot look-ups built once: SQLAlchemy then neither builds the statement nor computes its cache
# key again on every request (together a sizeable share of a request's CPU).
_VIEWER_LIKES = select(models.Like.reel_id).where(
    models.Like.user_id == bindparam("viewer"), InIds(models.Like.reel_id, "reel_ids")
)


@cache
def _rows_by_id_read(model: Any) -> EntityRead:
    return EntityRead(select(model).where(InIds(model.id, "ids")))


# Every single-reel operation checks the reel's creator too (a suspended creator hides it). The
# reel's counts as the database holds them come along (a key lookup): read from the primary they
# are served as they are; from a replica, when the cache has forgotten them (a reel nobody
# touched for the cache's TTL, as most of the long tail).
_REELS_WITH_CREATORS = EntityRead(
    select(models.Reel, models.User, liked_by_bound_viewer(models.Reel.id), *SERVED_COLUMNS)
    .outerjoin(models.User, models.User.id == models.Reel.creator_id)
    .outerjoin(models.ReelCounts, models.ReelCounts.reel_id == models.Reel.id)
    .where(InIds(models.Reel.id, "ids"))
)


class _Batches:
    """The loaders' batch functions and what they read with. Apart from `Loaders` on purpose: a
    DataLoader whose function refers back to the `Loaders` holding it is a reference cycle, and
    each request's loaders, with their rows, futures and tasks (~110 objects a feed page), were
    then freed only by the cyclic garbage collector, whose passes over them stalled requests."""

    def __init__(
        self, platform: Platform, viewer: models.User | None, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self._platform = platform
        self._sessions = sessions
        self._viewer = viewer
        self._viewer_id = viewer.id if viewer is not None else None
        # Reels' counts as read from a replica with the reels this request read: what fills the
        # cache's misses (from the primary they are served as they are: `read_counts`).
        self.counts_read: dict[int, dict[str, int]] = {}
        self.reads_primary = sessions is platform.primary_reads
        # Likes the viewer added (+1) or took back (-1) in this request, by reel: counts read
        # later show them, though the cache has them only after the aggregator's next flush.
        self.own_likes: dict[int, int] = {}

    def reel_listed(self) -> Any:
        return visibility.listed_to(self._viewer, follows_creator=False)

    def listed_reel_counts(self, parent_column: Any, *, through: tuple[Any, Any] | None = None) -> DataLoader[int, int]:
        """How many reels of each parent (a hashtag, a sound) its list shows the viewer: the
        rule in SQL, as in the parent's `reels` page (blocks aside, see reels.domain.visibility)."""

        async def load(parent_ids: Sequence[int]) -> list[int]:
            query = select(parent_column, func.count()).select_from(models.Reel)
            if through is not None:
                query = query.join(*through)
            query = query.where(
                parent_column.in_(parent_ids), visibility.listed_to(self._viewer, follows_creator=False)
            ).group_by(parent_column)
            async with self._sessions() as session:
                counts: dict[int, int] = {parent: count for parent, count in (await session.execute(query)).all()}
            return _in_order(parent_ids, counts, 0)

        return DataLoader(load)

    def rows_by_id(self, model: Any) -> DataLoader[int, Any]:
        read = _rows_by_id_read(model)

        async def load(ids: Sequence[int]) -> list[Any]:
            rows = await read.all(engine_of(self._sessions), {"ids": list(ids)})
            return _in_order(ids, {row.id: row for (row,) in rows})

        return DataLoader(load)

    def reels_with_creators(
        self,
        creators: DataLoader[int, Any],
        likes: DataLoader[int, bool],
        counts_read: Callable[[Mapping[int, dict[str, int]]], None],
    ) -> DataLoader[int, Any]:
        """Reels by id, each read with its creator's row, whether the viewer likes it and its
        counts as the database holds them, which prime `creators` and `likes` and go to
        `counts_read`: the creator every reel's visibility and `creator` field ask for, its
        `viewerHasLiked` and its counts cost no statement or round trip of their own."""

        async def load(ids: Sequence[int]) -> list[Any]:
            params = {"ids": list(ids), "viewer_id": self._viewer_id}
            rows = await _REELS_WITH_CREATORS.all(engine_of(self._sessions), params)
            for reel, creator, liked, *_ in rows:
                likes.prime(reel.id, liked)
                if creator is not None:
                    creators.prime(creator.id, creator)
            counts_read({row[0].id: served(row[3:]) for row in rows})
            return _in_order(ids, {row[0].id: row[0] for row in rows})

        return DataLoader(load)

    async def open_report_counts(self, reel_ids: Sequence[int]) -> list[int]:
        """Distinct users with an open report of each reel."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(models.Report.reel_id, func.count(models.Report.reporter_id.distinct()))
                    .where(models.Report.reel_id.in_(reel_ids), models.Report.status == models.ReportStatus.OPEN)
                    .group_by(models.Report.reel_id)
                )
            ).all()
        return _in_order(reel_ids, {reel_id: count for reel_id, count in rows}, 0)

    async def hashtags_by_reel(self, reel_ids: Sequence[int]) -> list[list[models.Hashtag]]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(models.ReelHashtag.reel_id, models.Hashtag)
                    .join(models.Hashtag, models.Hashtag.id == models.ReelHashtag.hashtag_id)
                    .where(models.ReelHashtag.reel_id.in_(reel_ids))
                    .order_by(models.Hashtag.name)
                )
            ).all()
        by_reel: dict[int, list[models.Hashtag]] = defaultdict(list)
        for reel_id, hashtag in rows:
            by_reel[reel_id].append(hashtag)
        return [by_reel[reel_id] for reel_id in reel_ids]

    async def counts(self, reel_ids: Sequence[int]) -> list[dict[str, int]]:
        found = await read_counts(self._platform.kv, self._sessions, reel_ids, read_with_reels=self.counts_read)
        if not self.own_likes:
            return found
        return [
            _with_own_like(counts, self.own_likes.get(reel_id, 0))
            for reel_id, counts in zip(reel_ids, found, strict=True)
        ]

    def read_counts(
        self, loader: DataLoader[int, dict[str, int]], counts: Mapping[int, dict[str, int]], *, from_primary: bool
    ) -> None:
        """Counts the request read from the database with its reels (`SERVED_COLUMNS`). From the
        primary they are the counts served, primed into `loader` without asking the cache (the
        primary is never behind it: see reels.domain.counts); from a replica, which may be,
        they fill the cache's misses."""
        if not from_primary:
            self.counts_read.update(counts)
            return
        loader.prime_many({reel_id: _with_own_like(c, self.own_likes.get(reel_id, 0)) for reel_id, c in counts.items()})

    async def follow_counts(self, user_ids: Sequence[int]) -> list[tuple[int, int]]:
        counts = await follow_counts.read(self._platform.kv, self._platform.graph, user_ids)
        return _in_order(user_ids, counts, follow_counts.NO_FOLLOWS)

    async def viewer_relations(self, user_ids: Sequence[int]) -> list[Relation]:
        if self._viewer_id is None:
            return [NO_RELATION] * len(user_ids)
        found = await self._platform.graph.relations(self._viewer_id, list(user_ids))
        return [
            Relation(follows=user_id in found.follows, blocked_either_way=user_id in found.blocked_either_way)
            for user_id in user_ids
        ]

    async def viewer_likes(self, reel_ids: Sequence[int]) -> list[bool]:
        if self._viewer_id is None:
            return [False] * len(reel_ids)
        async with self._sessions() as session:
            liked = set(
                (await session.scalars(_VIEWER_LIKES, {"viewer": self._viewer_id, "reel_ids": list(reel_ids)})).all()
            )
        return [reel_id in liked for reel_id in reel_ids]


def _with_own_like(counts: dict[str, int], change: int) -> dict[str, int]:
    return {**counts, "likes": max(0, counts["likes"] + change)} if change else counts


class Loaders:
    """`sessions` is where the loaders read: a replica's factory for a query, the primary's
    once the request has written and for a subscription (see `Context.reads`). Each loader is
    made on first use: a request needs a few of them."""

    def __init__(
        self, platform: Platform, viewer: models.User | None, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self._platform = platform
        self._sessions = sessions
        self._viewer_id = viewer.id if viewer is not None else None
        self._batches = _Batches(platform, viewer, sessions)

    @cached_property
    def user_by_id(self) -> DataLoader[int, Any]:
        return self._batches.rows_by_id(models.User)

    @cached_property
    def reel_by_id(self) -> DataLoader[int, Any]:
        return self._batches.reels_with_creators(self.user_by_id, self.viewer_likes_reel, self._read_with_reels.counts)

    @cached_property
    def comment_by_id(self) -> DataLoader[int, Any]:
        return self._batches.rows_by_id(models.Comment)

    @cached_property
    def audio_by_id(self) -> DataLoader[int, Any]:
        return self._batches.rows_by_id(models.Audio)

    @cached_property
    def hashtag_by_id(self) -> DataLoader[int, Any]:
        return self._batches.rows_by_id(models.Hashtag)

    @cached_property
    def report_by_id(self) -> DataLoader[int, Any]:
        return self._batches.rows_by_id(models.Report)

    @cached_property
    def moderation_log_by_id(self) -> DataLoader[int, Any]:
        return self._batches.rows_by_id(models.ModerationLog)

    @cached_property
    def hashtags_by_reel(self) -> DataLoader[int, list[models.Hashtag]]:
        return DataLoader(self._batches.hashtags_by_reel)

    @cached_property
    def open_report_count_by_reel(self) -> DataLoader[int, int]:
        return DataLoader(self._batches.open_report_counts)

    @cached_property
    def counts_by_reel(self) -> DataLoader[int, dict[str, int]]:
        return DataLoader(self._batches.counts)

    def read_counts(self, counts: Mapping[int, dict[str, int]], *, from_primary: bool) -> None:
        """Counts the request read from the database with its reels (`SERVED_COLUMNS`): see
        `_Batches.read_counts`."""
        self._batches.read_counts(self.counts_by_reel, counts, from_primary=from_primary)

    @cached_property
    def _read_with_reels(self) -> ReadWithReels:
        """Where a page of reels read with these loaders' sessions puts what came with them (it
        refers to no `Loaders`: see `_Batches`)."""
        counts = partial(self._batches.read_counts, self.counts_by_reel, from_primary=self._batches.reads_primary)
        return ReadWithReels(self.viewer_likes_reel, counts)

    def show_own_like(self, reel_id: int, *, liked: bool, counted: bool) -> None:
        """What the request serves from now on shows the viewer's own (un)like at once: the
        cache's counts have it only after the aggregator's next flush (the live count corrects
        them). Counts not loaded yet take it when they are: a payload that selects none costs
        no read."""
        self.viewer_likes_reel.prime(reel_id, liked, force=True)
        if not counted:
            return
        change = 1 if liked else -1
        loaded = self.counts_by_reel.cache_map.get(reel_id)
        if loaded is not None and loaded.done() and loaded.exception() is None:
            self.counts_by_reel.prime(reel_id, _with_own_like(loaded.result(), change), force=True)
        else:  # not asked for yet, or its batch has not returned: it applies the change
            self._batches.own_likes[reel_id] = self._batches.own_likes.get(reel_id, 0) + change

    @cached_property
    def follow_counts_by_user(self) -> DataLoader[int, tuple[int, int]]:
        return DataLoader(self._batches.follow_counts)

    @cached_property
    def viewer_relation_to(self) -> DataLoader[int, Relation]:
        """Follows and blocks between the viewer and each user: one graph look-up a batch."""
        return DataLoader(self._batches.viewer_relations)

    @cached_property
    def viewer_likes_reel(self) -> DataLoader[int, bool]:
        return DataLoader(self._batches.viewer_likes)

    @cached_property
    def reel_pages_by_creator(self) -> DataLoader[PageKey, list[Any]]:
        return child_pages(self._sessions, _REEL_PAGES_BY_CREATOR, self._viewer_id, self._read_with_reels)

    @cached_property
    def reel_pages_by_audio(self) -> DataLoader[PageKey, list[Any]]:
        return child_pages(self._sessions, _REEL_PAGES_BY_AUDIO, self._viewer_id, self._read_with_reels)

    @cached_property
    def reel_pages_by_hashtag(self) -> DataLoader[PageKey, list[Any]]:
        return child_pages(self._sessions, _REEL_PAGES_BY_HASHTAG, self._viewer_id, self._read_with_reels)

    @cached_property
    def popular_reel_pages_by_audio(self) -> DataLoader[PopularPageKey, list[tuple[models.Reel, int]]]:
        return popular_reel_pages(self._platform, models.Reel.audio_id, self._batches.reel_listed)

    @cached_property
    def popular_reel_pages_by_hashtag(self) -> DataLoader[PopularPageKey, list[tuple[models.Reel, int]]]:
        return popular_reel_pages(
            self._platform,
            models.ReelHashtag.hashtag_id,
            self._batches.reel_listed,
            through=_HASHTAG_LINK,
        )

    @cached_property
    def listed_reel_count_by_hashtag(self) -> DataLoader[int, int]:
        return self._batches.listed_reel_counts(models.ReelHashtag.hashtag_id, through=_HASHTAG_LINK)

    @cached_property
    def listed_reel_count_by_audio(self) -> DataLoader[int, int]:
        return self._batches.listed_reel_counts(models.Reel.audio_id)

    @cached_property
    def comment_pages_by_reel(self) -> DataLoader[PageKey, list[Any]]:
        return child_pages(self._sessions, _COMMENT_PAGES_BY_REEL, self._viewer_id)


class PageKey(NamedTuple):
    """One page of a parent's children, newest first: `first + 1` rows are fetched so the
    caller knows whether there is a next page."""

    parent_id: int
    first: int
    after_id: int | None
    include_followers_only: bool = False


# Beyond every id there is: a page with no `after` starts below it.
_NO_ID_ABOVE = 2**63 - 1


def _child_page_statement(
    model: Any,
    parent_column: Any,
    visible: ColumnElement[bool],
    *,
    through: tuple[Any, Any] | None = None,
    of_reels: bool = False,
) -> EntityReadByDialect:
    """The newest `rows` children below id `before` of each of `parents`: a batch of parents
    costs one statement. `visible` is the children's rule in SQL, which may use `followed` (the
    parents the viewer follows) and `viewer_id`. `through` = (link table, join condition) when
    parent and child meet in a link table. `of_reels`: each reel comes with whether the viewer
    likes it and its counts (SERVED_COLUMNS). Built once (with bound parameters, and run on the
    driver): building it and its cache key cost ~0.45 ms of CPU a request.

    On PostgreSQL each parent's page is a LATERAL subquery that stops after `rows` (an index
    range read, backwards, where the parent's index orders its children by id). A window
    function ranking each parent's children read and sorted every one of them: a profile of a
    creator with 24,000 reels cost 18 ms of the database's CPU. SQLite has no LATERAL and keeps
    the window function."""
    below = model.id < bindparam("before")

    def with_reel_columns(query: Select[Any]) -> Select[Any]:
        if not of_reels:
            return query
        return query.add_columns(liked_by_bound_viewer(model.id), *SERVED_COLUMNS).outerjoin(
            models.ReelCounts, models.ReelCounts.reel_id == model.id
        )

    rank = func.row_number().over(partition_by=parent_column, order_by=model.id.desc()).label("rank")
    ranked = select(model.id, parent_column.label("parent_id"), rank)
    if through is not None:
        ranked = ranked.join(*through)
    ranks = ranked.where(InIds(parent_column, "parents"), visible, below).subquery()
    windowed = with_reel_columns(select(ranks.c.parent_id, model).join(ranks, ranks.c.id == model.id))

    parent = (
        func.unnest(bindparam("parents", type_=postgresql.ARRAY(parent_column.type)))
        .table_valued("id")
        .render_derived(name="parent")
    )
    newest = select(model.id)
    if through is not None:
        newest = newest.join(*through)
    page = (
        newest.where(parent_column == parent.c.id, visible, below)
        .correlate(parent)  # the reels inside are the subquery's own, not the outer query's
        .order_by(model.id.desc())
        .limit(bindparam("rows"))
        .lateral("page")
    )
    lateral = with_reel_columns(
        select(parent.c.id.label("parent_id"), model)
        .select_from(parent)
        .join(page, true())
        .join(model, model.id == page.c.id)
    )
    return EntityReadByDialect(
        {
            "postgresql": EntityRead(lateral.order_by(model.id.desc())),
            "sqlite": EntityRead(windowed.where(ranks.c.rank <= bindparam("rows")).order_by(model.id.desc())),
        }
    )


def _reels_listed_below(parent_column: Any) -> ColumnElement[bool]:
    """The visibility rule, where the viewer follows the creator when they follow the parent (a
    creator's reels; no one follows a hashtag or a sound)."""
    return visibility.listed_to_bound_viewer(follows_creator=InIds(parent_column, "followed"))


_REEL_PAGES_BY_CREATOR = _child_page_statement(
    models.Reel, models.Reel.creator_id, _reels_listed_below(models.Reel.creator_id), of_reels=True
)
_REEL_PAGES_BY_AUDIO = _child_page_statement(
    models.Reel, models.Reel.audio_id, _reels_listed_below(models.Reel.audio_id), of_reels=True
)
_REEL_PAGES_BY_HASHTAG = _child_page_statement(
    models.Reel,
    models.ReelHashtag.hashtag_id,
    _reels_listed_below(models.ReelHashtag.hashtag_id),
    through=_HASHTAG_LINK,
    of_reels=True,
)
_COMMENT_PAGES_BY_REEL = _child_page_statement(
    models.Comment, models.Comment.reel_id, models.Comment.deleted_at.is_(None)
)


class ReadWithReels(NamedTuple):
    """Where what a page of reels is read with goes: the viewer's likes and their counts."""

    viewer_likes: DataLoader[int, bool]
    counts: Callable[[Mapping[int, dict[str, int]]], None]


def child_pages(
    sessions: async_sessionmaker[AsyncSession],
    statement: EntityReadByDialect,
    viewer_id: int | None,
    read_with_reels: ReadWithReels | None = None,
) -> DataLoader[PageKey, list[Any]]:
    """Pages of children (`statement`: a `_child_page_statement`) for many parents in one query
    per distinct (first, after) pair, so a list of N parents each showing a page costs one
    query, not N. `read_with_reels` (for a statement built `of_reels`) takes the viewer's likes
    of the reels read and their counts."""

    async def load(keys: Sequence[PageKey]) -> list[list[Any]]:
        found: dict[PageKey, list[Any]] = {}
        groups: dict[tuple[int, int | None], list[PageKey]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after_id)].append(key)
        for (first, after_id), group in groups.items():
            params = {
                "parents": sorted({key.parent_id for key in group}),  # each parent's page once
                "followed": [key.parent_id for key in group if key.include_followers_only],
                "before": _NO_ID_ABOVE if after_id is None else after_id,
                "rows": first + 1,
                "viewer_id": viewer_id,
            }
            rows = await statement.all(engine_of(sessions), params)
            by_parent: dict[int, list[Any]] = defaultdict(list)
            for parent_id, row, *_ in rows:
                by_parent[parent_id].append(row)
            if read_with_reels is not None:
                read_with_reels.viewer_likes.prime_many({row[1].id: row[2] for row in rows})
                read_with_reels.counts({row[1].id: served(row[3:]) for row in rows})
            for key in group:
                found[key] = by_parent[key.parent_id]
        return [found[key] for key in keys]

    return DataLoader(load)


class PopularPageKey(NamedTuple):
    """One page of a parent's reels, the most popular first; `after` is the (popularity, id)
    position of the last reel of the page before. `first + 1` rows are fetched."""

    parent_id: int
    first: int
    after: tuple[int, int] | None


def popular_reel_pages(
    platform: Platform,
    parent_column: Any,
    visible: Callable[[], Any],
    *,
    through: tuple[Any, Any] | None = None,
) -> DataLoader[PopularPageKey, list[tuple[models.Reel, int]]]:
    """`child_pages` for reels ordered by popularity (reels.domain.popularity), each with its
    popularity (the page's cursors carry it): one query per distinct (first, after) pair."""

    async def load(keys: Sequence[PopularPageKey]) -> list[list[tuple[models.Reel, int]]]:
        found: dict[PopularPageKey, list[tuple[models.Reel, int]]] = {}
        groups: dict[tuple[int, tuple[int, int] | None], list[PopularPageKey]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after)].append(key)
        score = popularity()
        async with platform.sessions() as session:
            for (first, after), group in groups.items():
                order = (score.desc(), models.Reel.id.desc())
                rank = func.row_number().over(partition_by=parent_column, order_by=order).label("rank")
                ranked = with_counts(
                    select(models.Reel.id, parent_column.label("parent_id"), score.label("score"), rank)
                )
                if through is not None:
                    ranked = ranked.join(*through)
                ranked = ranked.where(parent_column.in_([key.parent_id for key in group]), visible())
                if after is not None:
                    ranked = ranked.where(or_(score < after[0], and_(score == after[0], models.Reel.id < after[1])))
                page = ranked.subquery()
                rows = (
                    await session.execute(
                        select(page.c.parent_id, page.c.score, models.Reel)
                        .join(page, page.c.id == models.Reel.id)
                        .where(page.c.rank <= first + 1)
                        .order_by(page.c.score.desc(), models.Reel.id.desc())
                    )
                ).all()
                by_parent: dict[int, list[tuple[models.Reel, int]]] = defaultdict(list)
                for parent_id, popular, reel in rows:
                    by_parent[parent_id].append((reel, int(popular)))
                for key in group:
                    found[key] = by_parent[key.parent_id]
        return [found[key] for key in keys]

    return DataLoader(load)
