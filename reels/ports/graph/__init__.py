"""The follow graph port: follows, blocks and mutes (see `base`).

`from_settings` picks the adapter once at start-up: Neo4j over Bolt when REELS_NEO4J_URL is set,
otherwise the SQL tables of the relational store.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reels.ports.graph.base import Cursor, Edge, FollowGraph, FollowResult, Page, Relations, Suggestion
from reels.ports.graph.bolt import BoltFollowGraph
from reels.ports.graph.sql import SqlFollowGraph
from reels.settings import Settings

__all__ = [
    "BoltFollowGraph",
    "Cursor",
    "Edge",
    "FollowGraph",
    "FollowResult",
    "Page",
    "Relations",
    "SqlFollowGraph",
    "Suggestion",
    "from_settings",
]


def from_settings(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], reads: AsyncEngine
) -> FollowGraph:
    """Neo4j over Bolt when REELS_NEO4J_URL is set, else the SQL tables of `session_factory`
    (read through `reads`, a `reels.db.read_engine` of the same database)."""
    if settings.neo4j_url:
        return BoltFollowGraph(settings.neo4j_url, settings.neo4j_user, settings.neo4j_password)
    return SqlFollowGraph(session_factory, reads)
