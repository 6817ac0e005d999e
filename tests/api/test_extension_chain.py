"""The schema's extensions run as one chain: in order, around each step, as strawberry runs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import strawberry
from strawberry.extensions import SchemaExtension

from reels.schema.chain import ExtensionChain

seen: list[str] = []


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> str:
        return "ok"


def recording(name: str) -> type[SchemaExtension]:
    class Recording(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            seen.append(f"{name} enters")
            yield
            seen.append(f"{name} leaves")

        def on_execute(self) -> Iterator[None]:
            try:
                yield
            except RuntimeError:
                seen.append(f"{name} saw the error")
                raise

        def get_results(self) -> dict[str, str]:
            return {name: "here"}

    return Recording


class FailsExecution(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield
        raise RuntimeError("refused after execution")


def test_hooks_run_in_order_and_leave_in_reverse_with_every_members_results() -> None:
    seen.clear()
    schema = strawberry.Schema(query=Query, extensions=[ExtensionChain.of([recording("a"), recording("b")])])
    result = schema.execute_sync("{ ok }")
    assert result.data == {"ok": "ok"}
    assert result.extensions == {"a": "here", "b": "here"}
    assert seen == ["a enters", "b enters", "b leaves", "a leaves"]


def test_an_error_from_a_hook_reaches_the_hooks_around_it_and_the_client() -> None:
    seen.clear()
    chain = ExtensionChain.of([recording("outer"), FailsExecution, recording("inner")])
    result = strawberry.Schema(query=Query, extensions=[chain]).execute_sync("{ ok }")
    assert result.errors and result.errors[0].message == "refused after execution"
    # The inner hook had left before the error was raised; the outer one is left with it.
    assert seen == ["outer enters", "inner enters", "outer saw the error"]


def test_a_member_that_resolves_fields_or_is_async_is_refused_when_the_schema_is_built() -> None:
    class Resolving(SchemaExtension):
        def resolve(self, _next, root, info, *args, **kwargs):  # type: ignore[no-untyped-def]
            return _next(root, info, *args, **kwargs)

    class Async(SchemaExtension):
        async def on_operation(self):  # type: ignore[no-untyped-def]
            yield

    for member in (Resolving, Async):
        with pytest.raises(TypeError):
            ExtensionChain.of([member])


def test_a_hook_that_ends_normally_suppresses_the_error_for_the_hooks_outside_it() -> None:
    seen.clear()

    class Swallows(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            try:
                yield
            except RuntimeError:
                seen.append("swallowed")

    chain = ExtensionChain.of([recording("outer"), Swallows, FailsExecution])
    result = strawberry.Schema(query=Query, extensions=[chain]).execute_sync("{ ok }")
    assert seen == ["outer enters", "swallowed", "outer leaves"]
    assert not result.errors
