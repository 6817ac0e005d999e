"""The relational store port: an async SQLAlchemy engine on SQLite (embedded) or PostgreSQL.

SQLAlchemy is the abstraction; the adapter is the URL. This module owns the engine options
that make each backend behave (SQLite: WAL, foreign keys, a busy timeout), and the declarative
`Base` whose metadata holds every table: the domain's (`reels.domain.models`) and the follow
graph's SQL adapter's (`reels.ports.graph.sql`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, MetaData, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from reels.migrate import head_revision

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


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


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


def insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the session's dialect, so it can say ON CONFLICT DO NOTHING / DO UPDATE."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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
