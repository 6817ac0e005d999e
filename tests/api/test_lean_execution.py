"""Leaf fields read off their objects in one step answer exactly as graphql-core's full path does:
values, nulls, errors with their paths, futures, aliases, lists; a middleware still sees them."""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLObjectType
from strawberry.extensions import SchemaExtension

from reels.schema.lean import LEAN_FIELDS, LeanExecution, lean_resolvers
from reels.schema.scalars import DATETIME_UTC


@strawberry.enum
class Mood(enum.Enum):
    CALM = "calm"
    LOUD = "loud"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Pal(Named):  # with an interface: graphql-core asks its is_type_of
    age: int
    grumpy: str  # None on some below: a non-null field without a value


@strawberry.type
class Thing:
    pal: Pal
    sulky: Pal | None  # its `grumpy` fails: the error nulls it
    nobody: Pal | None
    name: str
    size: int
    mood: Mood
    at: datetime
    note: str | None
    broken: str  # set to None below: a non-null field without a value

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def fails(self) -> str | None:
        raise ValueError(f"no shout for {self.name}")

    @strawberry.field
    def greeting(self, info: strawberry.Info) -> str:  # reads the request's context
        return f"{info.context['greeting']} {self.name}"

    @strawberry.field
    def where(self, info: strawberry.Info) -> str:  # asks its info for more than the context
        return "/".join(str(key) for key in info.path.as_list())

    @strawberry.field
    def buddy(self, info: strawberry.Info) -> Pal:  # an object from a method reading the context
        return Pal(name=f"{info.context['greeting']} buddy", age=self.size, grumpy="no")

    @strawberry.field
    def later(self) -> Pal:  # an object as a future
        future: asyncio.Future[Pal] = asyncio.get_running_loop().create_future()
        future.set_result(Pal(name="later", age=self.size + 1, grumpy="no"))
        return future  # type: ignore[return-value]

    @strawberry.field
    def soon(self) -> str:  # a method that hands back a future (as loaders do)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        future.set_result(f"{self.name} soon")
        return future  # type: ignore[return-value]


def _thing(n: int) -> Thing:
    at = datetime(2026, 12, 7, 3, n, tzinfo=UTC)
    pal, sulky = Pal(name=f"p{n}", age=n, grumpy="no"), Pal(name="s", age=n, grumpy=None)  # type: ignore[arg-type]
    return Thing(pal=pal, sulky=sulky, nobody=None, name=f"t{n}", size=n, mood=Mood.LOUD, at=at, note=None, broken=None)  # type: ignore[arg-type]


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return [_thing(n) for n in range(3)]

    @strawberry.field
    def maybe(self) -> Thing | None:
        return _thing(9)

    @strawberry.field
    def pals(self) -> list[Pal | None]:  # rendered in one loop while every field it asks is lean
        return [Pal(name="a", age=1, grumpy="no"), None, Pal(name="b", age=2, grumpy=None)]  # type: ignore[arg-type]


@strawberry.type
class Mutation:  # its root fields run one after another (execute_fields_serially)
    @strawberry.mutation
    def ping(self) -> str:
        return "pong"

    @strawberry.mutation
    def refuse(self) -> str | None:
        raise ValueError("refused")

    @strawberry.mutation
    def vanish(self) -> str:
        return None  # type: ignore[return-value]


QUERY = (
    "{ things { name big: size mood at note shout greeting where soon fails pal { name age } "
    "sulky { name grumpy } nobody { name } buddy { name age } later { age } } again: maybe { size broken } }"
)
CONTEXT = {"greeting": "hello"}


def _schema(lean: bool, **options: Any) -> strawberry.Schema:
    config = strawberry.schema.config.StrawberryConfig(scalar_map={datetime: DATETIME_UTC})
    if not lean:
        return strawberry.Schema(query=Query, mutation=Mutation, config=config, **options)
    schema = strawberry.Schema(
        query=Query, mutation=Mutation, config=config, execution_context_class=LeanExecution, **options
    )
    lean_resolvers(schema._schema, schema.config.info_class)
    return schema


def _answer(schema: strawberry.Schema, query: str = QUERY) -> tuple[Any, list[tuple[str, Any, Any]]]:
    result = asyncio.run(schema.execute(query, context_value=CONTEXT))
    errors = sorted(
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or []]) for e in result.errors or []
    )
    return result.data, errors


def test_leaf_fields_answer_as_the_full_path_does() -> None:
    full, lean = _answer(_schema(lean=False)), _answer(_schema(lean=True))
    assert lean == full
    data, errors = lean
    assert data["things"][1] == {
        "name": "t1",
        "big": 1,
        "mood": "LOUD",
        "at": "2026-12-07T03:01:00Z",
        "note": None,
        "shout": "T1",
        "greeting": "hello t1",
        "where": "things/1/where",
        "soon": "t1 soon",
        "fails": None,
        "pal": {"name": "p1", "age": 1},
        "sulky": None,
        "nobody": None,
        "buddy": {"name": "hello buddy", "age": 1},
        "later": {"age": 2},
    }
    assert data["again"] is None  # `broken` is null: the error nulls the nearest nullable field
    messages = {(message, tuple(path)) for message, path, _ in errors}
    assert ("no shout for t2", ("things", 2, "fails")) in messages
    assert ("Cannot return null for non-nullable field Thing.broken.", ("again", "broken")) in messages
    assert ("Cannot return null for non-nullable field Pal.grumpy.", ("things", 0, "sulky", "grumpy")) in messages


def test_a_mutations_leaf_fields_answer_as_the_full_path_does() -> None:
    query = "mutation { ping refuse again: ping }"
    full, lean = _answer(_schema(lean=False), query), _answer(_schema(lean=True), query)
    assert lean == full
    assert lean[0] == {"ping": "pong", "refuse": None, "again": "pong"}
    assert [(message, path) for message, path, _ in lean[1]] == [("refused", ["refuse"])]
    vanished = _answer(_schema(lean=True), "mutation { ping vanish }")
    assert vanished == _answer(_schema(lean=False), "mutation { ping vanish }")
    assert vanished[0] is None  # a non-null root field without a value nulls the whole answer


def test_a_list_of_lean_objects_answers_as_the_full_path_does() -> None:
    executed: Counter[str] = Counter()  # objects whose fields graphql-core executed, by type

    class Counting(LeanExecution):
        def execute_fields(self, parent_type: GraphQLObjectType, *args: Any) -> Any:
            executed[parent_type.name] += 1
            return super().execute_fields(parent_type, *args)

    counting = strawberry.Schema(query=Query, execution_context_class=Counting)
    lean_resolvers(counting._schema, counting.config.info_class)
    query = "{ pals { name years: age } things { pal { name } buddy { name } } }"
    answer = _answer(counting, query)
    assert answer == _answer(_schema(lean=False), query)
    assert answer[0]["pals"] == [{"name": "a", "years": 1}, None, {"name": "b", "years": 2}]
    # Each list rendered in one loop: graphql-core executed the fields of the query alone.
    assert executed == {"Query": 1}
    # A null where none may be, a future, a method asking its info for its path, an error: each
    # hands its list to graphql-core, which answers with the errors and their paths.
    for failing in ("{ pals { name grumpy } }", "{ things { soon } }", "{ things { where } }", "{ things { fails } }"):
        assert _answer(_schema(lean=True), failing) == _answer(_schema(lean=False), failing), failing
    executed.clear()
    _answer(counting, "{ pals { grumpy } }")
    assert executed == {"Query": 1, "Pal": 2}  # graphql-core's way, for the list with the null


def test_leaf_fields_skip_the_resolve_info() -> None:
    built: Counter[str] = Counter()

    class Counting(LeanExecution):
        def build_resolve_info(
            self, field_def: GraphQLField, field_nodes: Any, parent_type: GraphQLObjectType, path: Any
        ) -> Any:
            built[field_nodes[0].name.value] += 1
            return super().build_resolve_info(field_def, field_nodes, parent_type, path)

    schema = strawberry.Schema(query=Query, execution_context_class=Counting)
    lean_resolvers(schema._schema, schema.config.info_class)
    leaves = set(schema._schema.type_map["Thing"].extensions[LEAN_FIELDS])
    assert leaves >= {"name", "size", "mood", "shout", "greeting", "where", "soon", "pal", "buddy", "later"}
    query = "{ things { name shout greeting where soon pal { name } buddy { age } } }"
    assert asyncio.run(schema.execute(query, context_value=CONTEXT)).errors is None
    # A future goes graphql-core's way, with its info; a method asking its info for more than
    # the context gets graphql-core's info, built on the ask; the context alone needs none, nor
    # does an object's field (its object's fields are then executed as any others).
    assert built == {"things": 1, "soon": 3, "where": 3}


def test_a_middleware_still_sees_every_leaf() -> None:
    seen: Counter[str] = Counter()

    class Watch(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen[info.field_name] += 1
            return _next(root, info, *args, **kwargs)

    schema = _schema(lean=True, extensions=[Watch])
    assert asyncio.run(schema.execute("{ things { name size } }")).errors is None
    assert seen == {"things": 1, "name": 3, "size": 3}
