"""The follow graph in Neo4j over Bolt: the production adapter (FalkorDB's Bolt listener in CI).

The Cypher here is the subset both servers run: MERGE/MATCH/DELETE, pattern predicates in
WHERE, OPTIONAL MATCH, UNWIND, UNION ALL, count, ORDER BY/LIMIT; parameters are integers only
(FalkorDB inlines Bolt parameters into the query text). Each operation is a single statement
because FalkorDB acknowledges BEGIN/COMMIT without grouping anything: a statement is its unit of
atomicity. Every query, reads included, runs in a write transaction, i.e. on the cluster
leader, so a follow is visible to the next read from any API process.

(:User {id})-[:FOLLOWS {at}]->(:User), and likewise BLOCKS and MUTES; `at` is Unix ms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import neo4j
from neo4j.exceptions import Neo4jError

from reels.ports.graph.base import (
    BLOCKS,
    FOLLOWS,
    MUTES,
    Cursor,
    Edge,
    FollowResult,
    Page,
    Relations,
    Suggestion,
    check_not_self,
    check_page_size,
    now_ms,
    page_of,
    relations_of,
)

log = logging.getLogger(__name__)

# Neo4j 5: a uniqueness constraint (with its index) also makes concurrent MERGEs of one user
# create one node. Servers without constraints in Cypher (FalkorDB) get a plain index; FalkorDB
# runs writes one at a time, so MERGE alone is enough there.
_CONSTRAINT = "CREATE CONSTRAINT reels_user_id IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE"
_INDEX = "CREATE INDEX FOR (u:User) ON (u.id)"

# Setting `written_at` on a node takes its write lock (Neo4j) before the block check below reads:
# every follow locks its follower and every block locks both users, so a follow racing a block
# is either removed by it or sees it.
_FOLLOW = """
MERGE (a:User {id: $follower}) SET a.written_at = $now
MERGE (b:User {id: $followee})
WITH a, b WHERE NOT (a)-[:BLOCKS]-(b)
MERGE (a)-[f:FOLLOWS]->(b) ON CREATE SET f.at = $now
RETURN f.at AS at
"""
_UNFOLLOW = "MATCH (:User {id: $follower})-[f:FOLLOWS]->(:User {id: $followee}) DELETE f"
_FOLLOWERS = """
MATCH (:User {id: $user})<-[f:FOLLOWS]-(o:User)
WHERE $at IS NULL OR f.at < $at OR (f.at = $at AND o.id < $id)
RETURN o.id AS id, f.at AS at ORDER BY at DESC, id DESC LIMIT $limit
"""
_FOLLOWING = """
MATCH (:User {id: $user})-[f:FOLLOWS]->(o:User)
WHERE $at IS NULL OR f.at < $at OR (f.at = $at AND o.id < $id)
RETURN o.id AS id, f.at AS at ORDER BY at DESC, id DESC LIMIT $limit
"""
_COUNTS = """
UNWIND $users AS id
OPTIONAL MATCH (:User {id: id})<-[r:FOLLOWS]-()
WITH id, count(r) AS followers
OPTIONAL MATCH (:User {id: id})-[r:FOLLOWS]->()
RETURN id, followers, count(r) AS following
"""
_WHICH_FOLLOWED = """
UNWIND $candidates AS candidate
MATCH (:User {id: $follower})-[:FOLLOWS]->(:User {id: candidate})
RETURN candidate AS id
"""
_FOLLOWERS_AMONG = """
UNWIND $candidates AS candidate
MATCH (:User {id: candidate})-[:FOLLOWS]->(:User {id: $followee})
RETURN candidate AS id
"""
# Each branch is the query of which_followed, muted_ids (narrowed to the others) and
# blocked_either_way; a pair blocked both ways gives two BLOCKS rows.
_RELATIONS = f"""
UNWIND $others AS other
MATCH (:User {{id: $user}})-[:FOLLOWS]->(:User {{id: other}})
RETURN '{FOLLOWS}' AS kind, other AS id
UNION ALL
UNWIND $others AS other
MATCH (:User {{id: $user}})-[:MUTES]->(:User {{id: other}})
RETURN '{MUTES}' AS kind, other AS id
UNION ALL
UNWIND $others AS other
MATCH (:User {{id: $user}})-[:BLOCKS]-(:User {{id: other}})
RETURN '{BLOCKS}' AS kind, other AS id
"""
_FOLLOWEES = """
MATCH (:User {id: $user})-[f:FOLLOWS]->(o:User)
RETURN o.id AS id ORDER BY f.at DESC, id DESC LIMIT $limit
"""
_BLOCK = """
MERGE (a:User {id: $blocker}) MERGE (b:User {id: $blocked})
SET a.written_at = $now, b.written_at = $now
MERGE (a)-[k:BLOCKS]->(b) ON CREATE SET k.at = $now
WITH a, b
OPTIONAL MATCH (a)-[f:FOLLOWS]-(b)
DELETE f
"""
_BLOCKED_EITHER_WAY = """
UNWIND $others AS other
MATCH (:User {id: $user})-[:BLOCKS]-(:User {id: other})
RETURN DISTINCT other AS id
"""
_MUTE = """
MERGE (a:User {id: $muter}) MERGE (b:User {id: $muted})
MERGE (a)-[m:MUTES]->(b) ON CREATE SET m.at = $now
"""
_MUTED_IDS = "MATCH (:User {id: $muter})-[:MUTES]->(o:User) RETURN o.id AS id"
_BLOCKED_IDS = "MATCH (:User {id: $blocker})-[:BLOCKS]->(o:User) RETURN o.id AS id"
_UNBLOCK = "MATCH (:User {id: $blocker})-[k:BLOCKS]->(:User {id: $blocked}) DELETE k"
_UNMUTE = "MATCH (:User {id: $muter})-[m:MUTES]->(:User {id: $muted}) DELETE m"
_BLOCKED = """
MATCH (:User {id: $user})-[f:BLOCKS]->(o:User)
WHERE $at IS NULL OR f.at < $at OR (f.at = $at AND o.id < $id)
RETURN o.id AS id, f.at AS at ORDER BY at DESC, id DESC LIMIT $limit
"""
_MUTED = """
MATCH (:User {id: $user})-[f:MUTES]->(o:User)
WHERE $at IS NULL OR f.at < $at OR (f.at = $at AND o.id < $id)
RETURN o.id AS id, f.at AS at ORDER BY at DESC, id DESC LIMIT $limit
"""
# count(m), not count(*): FalkorDB 4.16 answers 1 for every group of count(*) over two hops.
_SUGGESTIONS = """
MATCH (u:User {id: $user})-[:FOLLOWS]->(m:User)-[:FOLLOWS]->(s:User)
WHERE s <> u AND NOT (u)-[:FOLLOWS]->(s) AND NOT (u)-[:BLOCKS]-(s)
RETURN s.id AS id, count(m) AS paths ORDER BY paths DESC, id LIMIT $limit
"""


async def _eager(tx: neo4j.AsyncManagedTransaction, query: str, params: dict[str, Any]) -> neo4j.EagerResult:
    return await (await tx.run(query, params)).to_eager_result()


class BoltFollowGraph:
    def __init__(self, url: str, user: str, password: str) -> None:
        self._driver = neo4j.AsyncGraphDatabase.driver(url, auth=(user, password))
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    async def _run(self, query: str, **params: Any) -> neo4j.EagerResult:
        await self._ensure_schema()
        return await self._write(query, params)

    async def _write(self, query: str, params: dict[str, Any] | None = None) -> neo4j.EagerResult:
        # A managed write transaction for reads too: it runs on the leader, and is retried on
        # transient errors (Neo4j deadlocks). Not `driver.execute_query`: against FalkorDB its
        # pipelined BEGIN stalls every query ~40 ms on TCP delayed acknowledgements.
        async with self._driver.session() as session:
            return await session.execute_write(_eager, query, params or {})

    async def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        async with self._schema_lock:
            if self._schema_ready:
                return
            try:
                await self._write(_CONSTRAINT)
            except Neo4jError:
                try:
                    await self._write(_INDEX)
                except Neo4jError as exc:
                    # The server answered: the index exists (FalkorDB has no IF NOT EXISTS) or
                    # cannot be made; either way queries are still correct, only slower.
                    log.info("graph index on :User(id) not created: %s", exc.message)
            self._schema_ready = True

    async def follow(self, follower: int, followee: int) -> FollowResult:
        if follower == followee:
            return FollowResult.SELF
        result = await self._run(_FOLLOW, follower=follower, followee=followee, now=now_ms())
        if not result.records:
            return FollowResult.BLOCKED
        return FollowResult.CREATED if result.summary.counters.relationships_created else FollowResult.ALREADY

    async def unfollow(self, follower: int, followee: int) -> bool:
        result = await self._run(_UNFOLLOW, follower=follower, followee=followee)
        return result.summary.counters.relationships_deleted > 0

    async def followers(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        return await self._page(_FOLLOWERS, user, first, after)

    async def following(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        return await self._page(_FOLLOWING, user, first, after)

    async def _page(self, query: str, user: int, first: int, after: Cursor | None) -> Page:
        check_page_size(first)
        at, after_id = after if after is not None else (None, None)
        result = await self._run(query, user=user, at=at, id=after_id, limit=first + 1)
        return page_of([Edge(record["id"], record["at"]) for record in result.records], first)

    async def follow_counts(self, users: Sequence[int]) -> dict[int, tuple[int, int]]:
        if not users:
            return {}
        result = await self._run(_COUNTS, users=list(users))
        return {record["id"]: (record["followers"], record["following"]) for record in result.records}

    async def which_followed(self, follower: int, candidates: Sequence[int]) -> set[int]:
        if not candidates:
            return set()
        result = await self._run(_WHICH_FOLLOWED, follower=follower, candidates=list(candidates))
        return {record["id"] for record in result.records}

    async def followers_among(self, followee: int, candidates: Sequence[int]) -> set[int]:
        if not candidates:
            return set()
        result = await self._run(_FOLLOWERS_AMONG, followee=followee, candidates=list(candidates))
        return {record["id"] for record in result.records}

    async def relations(self, user: int, others: Sequence[int]) -> Relations:
        if not others:
            return relations_of(())
        result = await self._run(_RELATIONS, user=user, others=list(others))
        return relations_of((record["kind"], record["id"]) for record in result.records)

    async def followees(self, user: int, *, limit: int = 5000) -> list[int]:
        result = await self._run(_FOLLOWEES, user=user, limit=limit)
        return [record["id"] for record in result.records]

    async def block(self, blocker: int, blocked: int) -> None:
        check_not_self(blocker, blocked, "block")
        await self._run(_BLOCK, blocker=blocker, blocked=blocked, now=now_ms())

    async def blocked_either_way(self, user: int, others: Sequence[int]) -> set[int]:
        if not others:
            return set()
        result = await self._run(_BLOCKED_EITHER_WAY, user=user, others=list(others))
        return {record["id"] for record in result.records}

    async def mute(self, muter: int, muted: int) -> None:
        check_not_self(muter, muted, "mute")
        await self._run(_MUTE, muter=muter, muted=muted, now=now_ms())

    async def unblock(self, blocker: int, blocked: int) -> None:
        await self._run(_UNBLOCK, blocker=blocker, blocked=blocked)

    async def blocked(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        return await self._page(_BLOCKED, user, first, after)

    async def blocked_ids(self, blocker: int) -> set[int]:
        result = await self._run(_BLOCKED_IDS, blocker=blocker)
        return {record["id"] for record in result.records}

    async def unmute(self, muter: int, muted: int) -> None:
        await self._run(_UNMUTE, muter=muter, muted=muted)

    async def muted(self, user: int, *, first: int, after: Cursor | None = None) -> Page:
        return await self._page(_MUTED, user, first, after)

    async def muted_ids(self, muter: int) -> set[int]:
        result = await self._run(_MUTED_IDS, muter=muter)
        return {record["id"] for record in result.records}

    async def suggestions(self, user: int, *, limit: int = 20) -> list[Suggestion]:
        result = await self._run(_SUGGESTIONS, user=user, limit=limit)
        return [Suggestion(record["id"], record["paths"]) for record in result.records]

    async def ping(self) -> None:
        # An auto-commit query: execute_query would keep retrying a dead server for 30 s.
        async with self._driver.session() as session:
            await (await session.run("RETURN 1")).consume()

    async def close(self) -> None:
        await self._driver.close()
