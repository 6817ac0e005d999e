"""Several schema extensions run as one.

strawberry wraps every hook of every extension in a context manager of its own on each request
(it inspects each extension's class for each of its hooks, then enters and leaves them through
an exit stack): with eight extensions that was about a third of a `{ __typename }` request's
CPU. The chain is the one extension strawberry sees; it enters its members' hooks as plain
generators, in the order given, and leaves them in reverse, as strawberry would.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, StreamExecutionResult

# A member's bound hook: a synchronous generator function (checked in `ExtensionChain.of`).
Hook = Callable[..., Any]
_HOOKS = ("on_operation", "on_parse", "on_validate", "on_execute", "on_stream_result")


def _overrides(extension: type[SchemaExtension], hook: str) -> bool:
    return getattr(extension, hook) is not getattr(SchemaExtension, hook)


class ExtensionChain(SchemaExtension):
    """Made per operation from the members' factories, like any extension. Members must have
    synchronous generator hooks and no `resolve` (checked once, when the schema is built)."""

    def __init__(self, members: Sequence[SchemaExtension], overridden: dict[str, list[int]]) -> None:
        self.members = members
        self._hooks: dict[str, list[Hook]] = {
            hook: [getattr(members[index], hook) for index in indexes] for hook, indexes in overridden.items()
        }

    @classmethod
    def of(cls, factories: Sequence[Callable[[], SchemaExtension]]) -> Callable[[], ExtensionChain]:
        kinds = [type(factory()) for factory in factories]
        for kind in kinds:
            if kind._implements_resolve():
                raise TypeError(f"{kind.__name__} resolves fields: register it with strawberry itself")
            if inspect.iscoroutinefunction(kind.get_results):
                raise TypeError(f"{kind.__name__}.get_results must be synchronous")
            for hook in _HOOKS:
                if _overrides(kind, hook) and not inspect.isgeneratorfunction(getattr(kind, hook)):
                    raise TypeError(f"{kind.__name__}.{hook} must be a generator with one yield")
        # Which members take part in which hook is a fact of their classes: worked out once here,
        # not on every request.
        overridden = {hook: [n for n, kind in enumerate(kinds) if _overrides(kind, hook)] for hook in _HOOKS}
        return lambda: cls([factory() for factory in factories], overridden)

    @property  # strawberry assigns it per operation: the members share it
    def execution_context(self) -> ExecutionContext:
        return self._execution_context

    @execution_context.setter
    def execution_context(self, context: ExecutionContext) -> None:
        self._execution_context = context
        for member in self.members:
            member.execution_context = context

    # Generator functions, as strawberry requires of a hook to run it around its step.
    def on_operation(self) -> Iterator[None]:
        yield from _around(self._hooks["on_operation"])

    def on_parse(self) -> Iterator[None]:
        yield from _around(self._hooks["on_parse"])

    def on_validate(self) -> Iterator[None]:
        yield from _around(self._hooks["on_validate"])

    def on_execute(self) -> Iterator[None]:
        yield from _around(self._hooks["on_execute"])

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        yield from _around(self._hooks["on_stream_result"], result)

    def get_results(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for member in self.members:
            results.update(member.get_results())  # type: ignore[arg-type]  # synchronous, checked in `of`
        return results


def _around(hooks: list[Hook], *args: Any) -> Generator[None, None, None]:
    """Enter each hook up to its yield, in order; leave them in reverse. An exception (from the
    step inside, or from a hook) is thrown into each hook left after it, as an exit stack would:
    a hook may replace it, or end normally and so suppress it."""
    entered: list[Generator[None, None, None]] = []
    pending: BaseException | None = None
    try:
        for hook in hooks:
            generator = hook(*args)
            next(generator)
            entered.append(generator)
        yield
    except BaseException as error:  # noqa: BLE001  # handed to the hooks entered, raised unless one handled it
        pending = error
    for generator in reversed(entered):
        pending = _leave(generator, pending)
    if pending is not None:
        raise pending


def _leave(generator: Generator[None, None, None], pending: BaseException | None) -> BaseException | None:
    """Run a hook past its yield, throwing `pending` in; what it leaves pending."""
    try:
        if pending is None:
            next(generator)
        else:
            generator.throw(pending)
    except StopIteration:
        return None
    except BaseException as raised:  # noqa: BLE001  # carried to the next hook out, then raised
        return raised
    return RuntimeError("an extension hook yielded twice")
