"""The relational store port: an async SQLAlchemy engine on SQLite (embedded) or PostgreSQL.

SQLAlchemy is the abstraction; the adapter is the URL. This module owns the engine options
that make each backend behave (SQLite: WAL, foreign keys, a busy timeout), and the declarative
`Base` whose metadata holds every table: the domain's (`reels.domain.models`) and the follow
graph's SQL adapter's (`reels.ports.graph.sql`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import operator
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import (
    Boolean,
    Connection,
    Dialect,
    Engine,
    MetaData,
    Select,
    SelectBase,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    event,
    inspect,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapper
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.util.concurrency import greenlet_spawn

from reels.migrate import head_revision

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


SEARCH_PREFIX = "search_"


def in_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: search's indexes and FTS tables (named `search_*`, made per
    dialect by the migrations) are not in the models, so comparing the two leaves them out."""
    return not (name or "").startswith(SEARCH_PREFIX)


class NotMigratedError(RuntimeError):
    pass


# A connection idle this long is pinged when checked out again: a server restarted, or a proxy
# that dropped it, meanwhile is found there, and the pool swaps it for a new one.
PING_IDLE_S = 1.0


def _ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Ping a pooled connection at check-out only when it sat idle for `idle_s` or more.

    SQLAlchemy's `pool_pre_ping` pings at every check-out, and asyncpg's ping is a transaction of
    its own: BEGIN, a statement, ROLLBACK. That was three round trips added to every session (a
    cached feed page opens three). Under load the pool (last in, first out) hands out connections
    used a moment ago, which need no ping. What is not caught: a connection that breaks within `idle_s` of its last use fails its
    statement once; the pool then drops every connection as old as it."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return  # new, or used a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure means this connection is gone
            raise DisconnectionError(str(error)) from error
        if not alive:
            raise DisconnectionError("the connection did not answer a ping")


# Connections a process opens to PostgreSQL, at most (REELS_DATABASE_POOL_SIZE).
POOL_SIZE = 30


def json_column_value(text: str | bytes) -> Any:
    """A JSON column's value: decoded by orjson (a page of 20 reels decodes 20 `media` documents;
    json.loads took ~3x its time), or by json where orjson refuses what json wrote (NaN,
    Infinity). No column holds integers past 64 bits, which orjson would read as floats."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def create_engine(
    url: str, *, pool_size: int = POOL_SIZE, ping_idle_s: float = PING_IDLE_S, **options: Any
) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, json_deserializer=json_column_value)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # All of the pool is kept, none is overflow: under 20 concurrent requests a pool of 10 with
    # 20 overflow opened a third of a connection a request (a server process forked, the
    # statements prepared again), each closed after one use as the pool was full.
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, pool_use_lifo=True, json_deserializer=json_column_value, **options
    )
    _ping_when_idle(engine, ping_idle_s)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def read_engine(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for reading only, on the same pool. On PostgreSQL each statement runs as its own
    transaction (what it sees under READ COMMITTED anyway), without the BEGIN and ROLLBACK around
    a session that cost a sixth of a one-statement read's CPU. Never write through it: its
    statements would commit one by one. SQLite's driver begins no transaction for a read, and
    switching its connection to autocommit and back costs two hand-offs to aiosqlite's thread a
    connection: there it is the engine itself.

    Reads of plain values (ids, counts, flags) take a connection of it directly: an ORM session
    around one statement costs ~0.2 ms more of CPU, for an identity map they do not use."""
    if engine.dialect.name == "sqlite":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine a session factory's sessions run on (for a driver statement on the same database)."""
    engine: AsyncEngine = sessions.kw["bind"]
    return engine


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions of `read_engine(engine)`: for reads of ORM entities."""
    return session_factory(read_engine(engine))


# SQLite lets one transaction write at a time; the others wait in its busy handler, which polls
# with sleeps of up to 100 ms and serves no one in order: under 20 concurrent likes a few waited
# seconds for the lock (p99 2.4 s at a p50 of 150 ms, nearly all of it inside the INSERT). The
# writers of one process queue on a lock instead, first come first served.
_SQLITE_WRITERS: WeakKeyDictionary[Engine | Connection, asyncio.Lock] = WeakKeyDictionary()
_WRITING: ContextVar[frozenset[Engine | Connection]] = ContextVar("reels_sqlite_writing", default=frozenset())


@asynccontextmanager
async def one_writer(session: AsyncSession) -> AsyncIterator[None]:
    """Around a write transaction: on SQLite, wait for this process's other writers to finish
    (a transaction inside one already holding it goes on); on PostgreSQL, nothing."""
    engine = session.get_bind()
    if engine.dialect.name != "sqlite" or engine in _WRITING.get():
        yield
        return
    lock = _SQLITE_WRITERS.setdefault(engine, asyncio.Lock())
    async with lock:
        held = _WRITING.set(_WRITING.get() | {engine})
        try:
            yield
        finally:
            _WRITING.reset(held)


# Seconds the replica's replay is behind the primary: 0 while it has replayed all it received
# (an idle primary sends nothing, and the last replayed commit's age would only grow).
_REPLICA_LAG = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
)


class ReadReplicas:
    """Streaming replicas of the primary for read-only work (REELS_DATABASE_REPLICA_URLS).

    `sessions()` is the session factory a read asks for: a replica in turn among those that
    answered the last check and lagged at most `max_lag_s`, else the primary's. `watch()` runs
    the check every `check_interval_s`; a replica down, lagging, or no longer a replica (it was
    promoted) is skipped until a check finds it good again. Writes, and reads that must see the
    request's own writes, take the primary's factories directly. All these factories are
    `read_session_factory`s.
    """

    def __init__(
        self,
        primary: async_sessionmaker[AsyncSession],
        urls: list[str],
        *,
        max_lag_s: float,
        pool_size: int = POOL_SIZE,
        check_interval_s: float = 1.0,
    ) -> None:
        self.primary = primary
        self.max_lag_s = max_lag_s
        self.check_interval_s = check_interval_s
        self._engines = [
            create_engine(url, pool_size=pool_size, pool_timeout=2, connect_args={"timeout": 2}) for url in urls
        ]
        self._factories = [read_session_factory(engine) for engine in self._engines]
        self._usable: list[async_sessionmaker[AsyncSession]] = []
        self._turns = itertools.count()
        for engine, factory in zip(self._engines, self._factories, strict=True):
            event.listen(engine.sync_engine, "handle_error", self._on_error(factory))
            event.listen(engine.sync_engine.pool, "invalidate", self._on_invalidated(factory))

    def _skip(self, factory: async_sessionmaker[AsyncSession]) -> None:
        """No more reads go there until a check finds it back."""
        self._usable = [usable for usable in self._usable if usable is not factory]

    def _on_error(self, factory: async_sessionmaker[AsyncSession]) -> Any:
        def skip_if_gone(context: Any) -> None:
            if context.is_disconnect or context.connection is None:  # a lost or refused connection
                self._skip(factory)

        return skip_if_gone

    def _on_invalidated(self, factory: async_sessionmaker[AsyncSession]) -> Any:
        def skip_if_lost(_dbapi_connection: Any, _record: Any, exception: BaseException | None) -> None:
            if exception is not None:  # lost during a driver read (DriverStatement), or found dead
                self._skip(factory)

        return skip_if_lost

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        usable = self._usable
        return usable[next(self._turns) % len(usable)] if usable else self.primary

    async def check(self) -> None:
        """Measure every replica's lag (at once) and keep the good ones."""
        lags = await asyncio.gather(*(self._lag(engine) for engine in self._engines))
        usable = []
        for engine, factory, lag in zip(self._engines, self._factories, lags, strict=True):
            if lag is not None and lag <= self.max_lag_s:
                usable.append(factory)
            elif factory in self._usable:
                why = "unreachable" if lag is None else f"{lag:.1f} s behind"
                log.warning("read replica %s skipped: %s", engine.url.render_as_string(hide_password=True), why)
        self._usable = usable

    async def watch(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.check_interval_s)

    async def _lag(self, engine: AsyncEngine) -> float | None:
        try:
            async with asyncio.timeout(max(self.check_interval_s, 2.0)), engine.connect() as conn:
                lag = (await conn.execute(_REPLICA_LAG)).scalar()
        except Exception:  # noqa: BLE001 - any failure means the replica cannot serve now
            return None
        return None if lag is None else float(lag)

    async def close(self) -> None:
        for engine in self._engines:
            await engine.dispose()


DIALECTS = ("postgresql", "sqlite")


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements: the ORM's DML layer costs several times more a row."""
    return model.metadata.tables[model.__tablename__]


def dialect_of(session: AsyncSession) -> str:
    """The session's dialect name: one of DIALECTS."""
    return session.get_bind().dialect.name


def insert_for(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in `dialect`, so it can say ON CONFLICT DO NOTHING / DO UPDATE (for statements
    built once per dialect, at import)."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the session's dialect, so it can say ON CONFLICT DO NOTHING / DO UPDATE."""
    return insert_for(dialect_of(session), table)


class InIds(ColumnElement[bool]):
    """`column IN :name`, the ids given at execution as one list (`{name: ids}`).

    On PostgreSQL it is `column = ANY($1)` with the ids as one array parameter: the statement's
    text is the same whatever the length, so SQLAlchemy compiles it once (this construct has a
    cache key) and the driver's prepared statement is reused, and neither renders or binds a
    parameter per id. A new feed list's 1,000-id read took 3.1–4.3 ms this way against 5.0–6.2 ms
    as `IN`; a page's 20 reels 0.55 against 0.70 ms of CPU. On SQLite it is `column IN (SELECT
    value FROM json_each(?))` with the ids as one JSON array, for the same reasons. (Elsewhere,
    as when a statement is printed, it is the usual expanding `IN`.)"""

    type = Boolean()
    inherit_cache = False  # the cache key is made of `_traverse_internals`
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("name", InternalTraversal.dp_string)]

    def __init__(self, column: ColumnElement[Any] | InstrumentedAttribute[Any], name: str) -> None:
        self.column = column.expression
        self.name = name

    @property
    def _from_objects(self) -> Any:
        return self.column._from_objects


@compiles(InIds)
def _in_list(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(InIds, "postgresql")
def _equals_any(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    array = bindparam(element.name, type_=postgresql.ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)


class _IdsAsJson(TypeDecorator[Sequence[int]]):
    """A list of ids bound as the text of a JSON array."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Sequence[int] | None, dialect: Dialect) -> str | None:
        return None if value is None else orjson.dumps(list(value)).decode()


@compiles(InIds, "sqlite")
def _in_json_array(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    ids = compiler.process(bindparam(element.name, type_=_IdsAsJson()), **kw)
    return f"{compiler.process(element.column, **kw)} IN (SELECT value FROM json_each({ids}))"


# A parameter the caller must give: it has no value in the statement.
_REQUIRED = object()


class _Compiled(NamedTuple):
    sql: str
    # Per parameter, in the driver's order: its name, its value in the statement (or _REQUIRED),
    # and its type's bind processor. A value the caller gives wins, as in SQLAlchemy's execution.
    parameters: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    # The columns that have a result processor, with it (their place in a row, the processor),
    # once the driver has said the columns' types.
    columns: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        arguments = []
        for name, fixed, processor in self.parameters:
            value = values[name] if fixed is _REQUIRED or name in values else fixed
            arguments.append(value if processor is None else processor(value))
        return arguments


def _check_out(engine: Engine) -> PoolProxiedConnection:
    """A connection of the engine's pool, with no SQLAlchemy `Connection` around it: a driver
    statement uses none of what that sets up and tears down, which cost ~0.19 ms of CPU a
    statement (0.24 ms against 0.05 ms a check-out and return, measured on PostgreSQL). A
    check-out the driver refuses is reported as `Connection` reports it: wrapped, with the
    engine's handle_error event (ReadReplicas skip a replica that refuses connections)."""
    try:
        return engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as error:  # what `Connection.__init__` does with it
        Connection._handle_dbapi_exception_noconnection(error, engine.dialect, engine)


async def _return_to_pool(pooled: PoolProxiedConnection) -> None:
    """asyncpg: the pool's reset on return is a ROLLBACK only inside a transaction, and a driver
    statement runs outside any, so giving the connection back awaits nothing."""
    pooled.close()


async def _return_to_pool_awaiting(pooled: PoolProxiedConnection) -> None:
    """aiosqlite: the pool's reset on return is always a ROLLBACK, awaited in SQLAlchemy's way."""
    await greenlet_spawn(pooled.close)


class _Driver(NamedTuple):
    rows: Callable[[Any, str, list[Any]], Awaitable[Sequence[Sequence[Any]]]]
    # The columns' types as the driver names them (asyncpg's type OIDs, which some of
    # SQLAlchemy's result processors for it need; SQLite's driver names none).
    column_types: Callable[[Any, str], Awaitable[list[Any] | None]]
    # Whether a connection that failed a statement is gone (not merely refused the statement).
    lost: Callable[[Any], bool]
    give_back: Callable[[PoolProxiedConnection], Awaitable[None]]


async def _asyncpg_rows(driver: Any, sql: str, arguments: list[Any]) -> Sequence[Sequence[Any]]:
    rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *arguments)  # prepared once per connection
    return rows


async def _asyncpg_column_types(driver: Any, sql: str) -> list[Any]:
    return [attribute.type.oid for attribute in (await driver.prepare(sql)).get_attributes()]


async def _aiosqlite_rows(driver: Any, sql: str, arguments: list[Any]) -> Sequence[Sequence[Any]]:
    async with driver.execute(sql, arguments) as cursor:
        rows: Sequence[Sequence[Any]] = await cursor.fetchall()
        return rows


async def _no_column_types(driver: Any, sql: str) -> None:
    return None


def _asyncpg_lost(driver: Any) -> bool:
    lost: bool = driver.is_closed()
    return lost


def _never_lost(driver: Any) -> bool:
    return False  # a file, not a server


_DRIVERS = {
    "asyncpg": _Driver(_asyncpg_rows, _asyncpg_column_types, _asyncpg_lost, _return_to_pool),
    "aiosqlite": _Driver(_aiosqlite_rows, _no_column_types, _never_lost, _return_to_pool_awaiting),
}


class DriverStatement:
    """A statement built once with SQLAlchemy and run on the driver's own connection, for the
    reads nearly every request makes (the signed-in account, a page's reels, how the viewer
    stands to their creators, a profile's follow counts) and the hottest one-statement write (a
    like on PostgreSQL, whose data-modifying CTE selects what it wrote). It runs outside any
    transaction, so on PostgreSQL a write commits as it ends; SQLite's writes stay in sessions
    (`one_writer`).

    SQLAlchemy compiles the statement once per dialect, lends a connection of its pool, and
    converts each parameter and column as its own execution would (the same bind and result
    processors of their types, given the column types the driver reports the first time).
    What is skipped is its per-statement execution and result set-up: measured on PostgreSQL,
    a one-row account read cost 0.23 ms of CPU this way against 0.44–0.55 ms as an ORM read and
    0.32–0.39 ms as a Core one. A connection lost during a statement is invalidated, as
    SQLAlchemy does on a disconnect: the pool hands it out no more, and a read replica whose
    connection it was is skipped (ReadReplicas)."""

    def __init__(self, statement: SelectBase) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.positiontup is None or compiled.post_compile_params or compiled.literal_execute_params:
            raise TypeError("a driver statement takes positional parameters rendered once (use InIds for lists)")
        if compiled.insert_prefetch or compiled.update_prefetch:  # SQLAlchemy's execution would compute them
            raise TypeError("a driver statement runs no Python-side column defaults: give those columns' values")
        parameters = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            parameters.append((name, _REQUIRED if bind.required else bind.effective_value, processor))
        return _Compiled(compiled.string, tuple(parameters))

    async def _with_columns(self, dialect: Dialect, compiled: _Compiled, driver: _Driver, connection: Any) -> _Compiled:
        types = await driver.column_types(connection, compiled.sql)
        columns = self.statement.selected_columns
        processors = tuple(
            (n, processor)
            for n, column in enumerate(columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, types and types[n]))
        )
        made = self._compiled[dialect.name] = compiled._replace(columns=processors)
        return made

    async def rows(self, engine: AsyncEngine, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        dialect = engine.dialect
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        arguments = compiled.arguments(values)
        driver = _DRIVERS[dialect.driver]
        pooled = await greenlet_spawn(_check_out, engine.sync_engine)
        raw = pooled.driver_connection
        try:
            if compiled.columns is None:  # once per dialect: the types are those of the schema
                compiled = await self._with_columns(dialect, compiled, driver, raw)
            rows = await driver.rows(raw, compiled.sql, arguments)
        except BaseException as error:  # cancelled too: the connection goes back, or is dropped if lost
            if driver.lost(raw):
                await greenlet_spawn(pooled.invalidate, error)
            await driver.give_back(pooled)
            raise
        await driver.give_back(pooled)
        processors = compiled.columns
        assert processors is not None
        made = []
        for row in rows:
            converted = list(row)
            for n, processor in processors:
                converted[n] = processor(converted[n])
            made.append(tuple(converted))
        return made


class _Entity(NamedTuple):
    columns: slice  # its columns in a row
    keys: list[str]  # its attributes, in the order of those columns
    identity: Callable[[tuple[Any, ...]], tuple[Any, ...]]  # its primary key's values, of its columns
    nulls: tuple[None, ...]  # the identity of an outer join's missing side
    key_class: type  # the first part of its identity keys
    new_instance: Callable[[], Any]

    @classmethod
    def of(cls, mapper: Mapper[Any], columns: slice, own: list[Any]) -> _Entity:
        keys = [mapper.get_property_by_column(column).key for column in own]
        places = [own.index(column) for column in mapper.primary_key]
        contiguous = places == list(range(places[0], places[0] + len(places)))
        # A slice picks a tuple in C, even of one column (the usual `id`).
        identity = (
            operator.itemgetter(slice(places[0], places[0] + len(places)))
            if contiguous
            else operator.itemgetter(*places)
        )
        nulls = (None,) * len(places)
        key_class = mapper.identity_key_from_primary_key(nulls)[0]
        return cls(columns, keys, identity, nulls, key_class, mapper.class_manager.new_instance)

    def made(self, row: tuple[Any, ...], read: dict[tuple[Any, ...], Any]) -> Any:
        """The row's instance (one per identity in a read, as a session's identity map keeps it),
        or None where its primary key is null."""
        values = row[self.columns]
        identity = self.identity(values)
        if identity == self.nulls:
            return None
        key = (self.key_class, identity, None)  # what `Mapper.identity_key_from_primary_key` makes
        instance = read.get(key)
        if instance is None:
            instance = read[key] = self.new_instance()
            instance.__dict__.update(zip(self.keys, values, strict=True))  # as the ORM's loading fills one
            # Detached, as the ORM's loading leaves it once its session is closed (what
            # make_transient_to_detached does, less clearing history a new instance has none of).
            instance_state(instance).key = key
        return instance


class EntityRead(DriverStatement):
    """A driver read of mapped classes and plain columns (`select(Reel, User, liked)`): the
    columns of each class in a row become an instance, as a session's read leaves it once closed
    (detached, one per identity in the read), or None where its primary key is null (an outer
    join's missing side).

    Measured on PostgreSQL, a page of 20 reels with their creators cost ~0.8 ms of CPU as an ORM
    read, against ~0.33 ms run on the driver before its instances are made."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        super().__init__(statement)
        columns = list(statement.selected_columns)
        self._items: list[_Entity | int] = []  # per item of a row: an instance, or one column (its place)
        at = 0
        for description in statement.column_descriptions:
            mapper = inspect(description["expr"], raiseerr=False)
            if not isinstance(mapper, Mapper):
                self._items.append(at)
                at += 1
                continue
            own = columns[at : at + len(mapper.columns)]
            self._items.append(_Entity.of(mapper, slice(at, at + len(own)), own))
            at += len(own)

    async def all(self, engine: AsyncEngine, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        read: dict[tuple[Any, ...], Any] = {}
        items = self._items
        return [
            tuple([row[item] if isinstance(item, int) else item.made(row, read) for item in items])
            for row in await self.rows(engine, values)
        ]

    async def one_or_none(self, engine: AsyncEngine, values: Mapping[str, Any]) -> Any:
        """The first item of the one row, or None when there is no row."""
        rows = await self.all(engine, values)
        if not rows:
            return None
        (row,) = rows
        return row[0]


class EntityReadByDialect:
    """An entity read whose best statement differs by dialect (PostgreSQL has LATERAL, SQLite
    has not): the one for the engine's dialect runs."""

    def __init__(self, reads: Mapping[str, EntityRead]) -> None:
        self._reads = dict(reads)

    async def all(self, engine: AsyncEngine, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return await self._reads[engine.dialect.name].all(engine, values)


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(sync_conn: Connection) -> str | None:
        if not inspect(sync_conn).has_table("alembic_version"):
            return None
        revision: str | None = sync_conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        return revision

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Refuse to serve a database that is not at the newest migration."""
    have, want = await current_revision(engine), head_revision()
    if have != want:
        raise NotMigratedError(
            f"the database is at migration {have or 'none'}, the code needs {want}: run `reels migrate`"
        )


async def check_migrated(url: str) -> None:
    """`ensure_migrated` on a throwaway engine: the pre-flight check of `reels serve`."""
    engine = create_engine(url)
    try:
        await ensure_migrated(engine)
    finally:
        await engine.dispose()
