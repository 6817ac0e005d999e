"""Resolvers without arguments are called directly, with the same Info strawberry would pass."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from reels.schema.lean import lean_resolvers


@strawberry.type
class Thing:
    name: str

    @strawberry.field
    def shout(self, info: Info) -> str:
        return f"{self.name.upper()} for {info.context['who']} at {info.field_name}"

    @strawberry.field
    def plain(self) -> str:
        return self.name

    @strawberry.field
    def repeat(self, times: int) -> str:
        return self.name * times

    @strawberry.field
    async def later(self) -> str:
        return self.name


@strawberry.type
class Query:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(name="reel")


def test_eligible_fields_answer_as_before_and_others_keep_strawberrys_path() -> None:
    schema = strawberry.Schema(query=Query)
    query = "{ thing { shout plain repeat(times: 2) } }"
    before = schema.execute_sync(query, context_value={"who": "ana"})
    assert lean_resolvers(schema._schema, schema.config.info_class) == 3  # thing, shout, plain
    after = schema.execute_sync(query, context_value={"who": "ana"})
    assert after.errors is None
    assert (
        after.data
        == before.data
        == {"thing": {"shout": "REEL for ana at shout", "plain": "reel", "repeat": "reelreel"}}
    )
    thing = schema._schema.type_map["Thing"]
    assert thing.fields["repeat"].resolve.__module__ != "reels.schema.lean"  # type: ignore[union-attr]
    assert thing.fields["later"].resolve.__module__ != "reels.schema.lean"  # type: ignore[union-attr]
