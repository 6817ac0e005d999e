"""Fields executed without strawberry's and graphql-core's per-call machinery, where it does
nothing.

For each field with a resolver, strawberry wraps the call in a chain made for arguments, field
extensions and permissions: it converts the (absent) arguments, threads the call through the
(empty) extensions and three more layers before the method runs. A page of 20 reels calls ~80
such resolvers (`thumbnailUrl`, `viewerHasLiked`, `counts`, `creator`, ...), and that chain was
about a fifth of the page's CPU. A resolver that takes no arguments and has no extensions,
permissions or root/parent parameter is called here directly with the same `Info` strawberry
would pass; everything else keeps strawberry's path.

A leaf field (a scalar or enum, no arguments) read straight off its object (a plain attribute,
or a method of the object alone) goes further: `LeanExecution` reads and serializes it in one
step, without the resolve info, the resolver chain and the completion dispatch graphql-core
spends on every field (~7 µs each, measured). A page of 20 reels has ~180 such fields (ids, captions,
durations, counts, usernames, cursors). A leaf whose method also takes the `Info` (~40 a page:
`viewerHasLiked`, `thumbnailUrl`) goes the same way, its info holding the request's context at
hand and building graphql-core's resolve info only if the method asks it for anything else. So
does a field of an object type (not a list, not an interface or union) read the same ways (~60
a page: each edge's `node`, each reel's `counts` and `creator`): its object's own fields are
then executed as graphql-core would. Errors and nulls are reported as graphql-core would, with
the field's path.

A list of objects whose selected fields are all lean, all the way down (a page's edges), is
rendered in one loop from a plan of its selection, without graphql-core's path, info and
completion dispatch for each field; an item it cannot render as graphql-core would hands the
list back to graphql-core.

`LeanExecution` holds no reference to itself, so a request's execution state is freed by
reference counting when the request ends.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, NamedTuple, cast

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, Undefined, gather_with_cancel
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

Resolve = Callable[[Any, GraphQLResolveInfo[Any]], Any]

# Where a type's lean fields are kept, in its graphql-core `extensions`: {field name: _LeanField}.
LEAN_FIELDS = "reels.lean_fields"


class _LeanField(NamedTuple):
    # The object -> the field's value; with `takes_info`, (the object, a resolve info) -> the value.
    read: Callable[..., Any]
    type: GraphQLLeafType | GraphQLObjectType
    return_type: GraphQLOutputType  # with its non-null wrapper, for errors
    takes_info: bool
    plain_leaf: bool  # a scalar or enum read off its object alone


class _ContextAtHand:
    """The resolve info a lean field's method (or its object type's `is_type_of`) gets: the
    request's context at hand, and anything else (path, variables, ...) from graphql-core's
    resolve info, built on the first ask."""

    __slots__ = ("_build", "_info", "context")

    def __init__(self, context: Any, build: Callable[[], GraphQLResolveInfo[Any]]) -> None:
        self.context = context
        self._build = build
        self._info: GraphQLResolveInfo[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._info is None:
            self._info = self._build()
        return getattr(self._info, name)


def _pure_read(field: StrawberryField) -> Callable[[Any], Any] | None:
    """The field's value as a function of its object alone: a plain attribute, or a method taking
    nothing else; None for anything else."""
    if field.extensions or field.arguments:
        return None
    resolver = field.base_resolver
    if resolver is None:
        return operator.attrgetter(field.python_name)  # strawberry's default resolver: getattr
    if (
        resolver.is_async
        or resolver.self_parameter is None
        or list(resolver.signature.parameters) != [resolver.self_parameter.name]
    ):
        return None
    return cast(Callable[[Any], Any], resolver.wrapped_func)


def _lean_call(field: StrawberryField, info_class: type[Info[Any, Any]]) -> Resolve | None:
    resolver = field.base_resolver
    if (
        resolver is None
        or resolver.is_async
        or field.arguments
        or field.extensions  # permission classes are among them
        or resolver.self_parameter is None
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
    ):
        return None
    method = cast(Callable[..., Any], resolver.wrapped_func)  # a plain function: the checks above
    parameters = list(resolver.signature.parameters)
    if resolver.info_parameter is None and parameters == [resolver.self_parameter.name]:
        return lambda source, _: method(source)
    if resolver.info_parameter is not None and parameters == [
        resolver.self_parameter.name,
        resolver.info_parameter.name,
    ]:
        return lambda source, info: method(source, info_class(_raw_info=info, _field=field))
    return None


def lean_resolvers(schema: GraphQLSchema, info_class: type[Info[Any, Any]]) -> int:
    """Swap the eligible fields' resolvers in graphql-core's schema and note each type's lean
    fields for `LeanExecution`; how many resolvers were swapped."""
    swapped = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType):
            continue
        lean = {}
        for name, graphql_field in named.fields.items():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(field, StrawberryField):
                continue
            call = _lean_call(field, info_class)
            if call is not None:
                graphql_field.resolve = call
                swapped += 1
            read: Callable[..., Any] | None = _pure_read(field)
            takes_info = False
            if read is None and call is not None and field.base_resolver and field.base_resolver.info_parameter:
                read, takes_info = call, True
            inner = graphql_field.type.of_type if isinstance(graphql_field.type, GraphQLNonNull) else graphql_field.type
            lean_type = is_leaf_type(inner) or isinstance(inner, GraphQLObjectType)  # no list, interface, union
            if read is not None and lean_type and not graphql_field.args:
                plain_leaf = not takes_info and is_leaf_type(inner)
                lean[name] = _LeanField(read, inner, graphql_field.type, takes_info, plain_leaf)
        if lean:
            named.extensions[LEAN_FIELDS] = lean
    return swapped


_NO_LEAN_FIELDS: dict[str, _LeanField] = {}


class _Step(NamedTuple):
    response_name: str
    field: _LeanField
    then: _Plan | None  # the object's own plan, for a field of an object type


class _Plan(NamedTuple):
    """How to render an object of `type` for one selection: each of its fields lean."""

    type: GraphQLObjectType
    steps: list[_Step]


class _NotLean(Exception):
    """An item the list's plan cannot render as graphql-core would: the list goes graphql-core's way."""


def _helpers_of(execution: StrawberryGraphQLCoreExecutionContext) -> GraphQLResolveInfoHelpers:
    """What graphql-core's `info.async_helpers` do, without a reference to the execution.

    graphql-core keeps these helpers as bound methods of the execution in the execution itself: a
    reference cycle, so each request's execution state (collected fields, paths, caches: ~100
    objects a feed page) outlived the request until the cyclic collector found it, and that
    collector's passes over such garbage were the cached feed page's slowest requests."""
    execution_ref = weakref.ref(execution)

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        return gather_with_cancel(*values)  # all the execution's own method does

    def track(values: Sequence[Any]) -> None:
        running = execution_ref()
        if running is not None:  # otherwise there is no execution left to settle them for
            running.track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


class LeanExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with lean fields read off their objects in one step (unless a
    middleware, which must see every field, is given), and freed by reference counting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        self._lean = middleware is None or not middleware.middlewares
        self.async_helpers = _helpers_of(self)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's, with each lean leaf that needs no info read and serialized right here:
        no path, no call of `execute_field` for it (a page of 20 reels has ~180 of them)."""
        lean_fields = parent_type.extensions.get(LEAN_FIELDS) if self._lean else None
        if not lean_fields:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                lean = lean_fields.get(field_details_list[0].node.name.value)
                if lean is not None and lean.plain_leaf:
                    result = self._read_leaf(
                        lean, source_value, field_details_list, (parent_type, path, response_name), position_context
                    )
                else:
                    field_path = Path(path, response_name, parent_type.name)
                    result = self.execute_field(
                        parent_type, source_value, field_details_list, field_path, position_context
                    )
                    if result is Undefined:
                        continue
                results[response_name] = result
                if self.is_awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:  # settle what the other fields started: they may fail too
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._awaited(results, awaitable_fields)

    @staticmethod
    async def _awaited(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
        if len(awaitable_fields) == 1:  # one needs no gathering
            name = awaitable_fields[0]
            results[name] = await results[name]
            return results
        values = await gather_with_cancel(*(results[name] for name in awaitable_fields))
        results.update(zip(awaitable_fields, values, strict=True))
        return results

    def _read_leaf(
        self,
        lean: _LeanField,
        source: Any,
        field_details_list: FieldDetailsList,
        where: tuple[GraphQLObjectType, Path | None, str],  # the parent type, its path, the response name
        position_context: Any,
    ) -> Any:
        """A lean leaf's value, serialized; its path is made only when something needs it."""
        parent_type, parent_path, response_name = where
        try:
            value = lean.read(source)
            if value is None:
                if lean.type is not lean.return_type:  # non-null
                    name = field_details_list[0].node.name.value
                    raise TypeError(f"Cannot return null for non-nullable field {parent_type.name}.{name}.")
                return None
            if self.is_awaitable(value):
                path = Path(parent_path, response_name, parent_type.name)
                return self._complete_later(lean, parent_type, field_details_list, path, value, position_context)
            return self.complete_leaf_value(cast(GraphQLLeafType, lean.type), value)
        except Exception as raw_error:  # noqa: BLE001 - reported as graphql-core reports a field error
            path = Path(parent_path, response_name, parent_type.name)
            self.handle_field_error(raw_error, lean.return_type, field_details_list, path)
            return None

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        name = field_details_list[0].node.name.value
        lean = self._lean and parent_type.extensions.get(LEAN_FIELDS, _NO_LEAN_FIELDS).get(name)
        if not lean:
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        if lean.plain_leaf:  # a mutation's root field, executed serially
            where = (parent_type, path.prev, cast(str, path.key))
            return self._read_leaf(lean, source, field_details_list, where, position_context)
        try:
            # The info a method or an object type's is_type_of (strawberry's reads nothing of it) gets.
            at_hand = (
                _ContextAtHand(self.context_value, lambda: self._resolve_info(parent_type, field_details_list, path))
                if lean.takes_info or isinstance(lean.type, GraphQLObjectType)
                else None
            )
            value = lean.read(source, at_hand) if lean.takes_info else lean.read(source)
            if self.is_awaitable(value):
                return self._complete_later(lean, parent_type, field_details_list, path, value, position_context)
            if value is None:
                if lean.type is not lean.return_type:  # non-null
                    raise TypeError(f"Cannot return null for non-nullable field {parent_type.name}.{name}.")
                return None
            if not isinstance(lean.type, GraphQLObjectType):
                return self.complete_leaf_value(lean.type, value)
            completed = self.complete_object_value(
                lean.type, field_details_list, cast("GraphQLResolveInfo[Any]", at_hand), path, value, position_context
            )
            if self.is_awaitable(completed):
                return self._settled(completed, lean.return_type, field_details_list, path)
            return completed
        except Exception as raw_error:  # noqa: BLE001 - reported as graphql-core reports a field error
            self.handle_field_error(raw_error, lean.return_type, field_details_list, path)
            return None

    def _complete_later(
        self,
        lean: _LeanField,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        value: Awaitable[Any],
        position_context: Any,
    ) -> Any:
        """A method that handed back a future: graphql-core's way, with a resolve info."""
        info = self._resolve_info(parent_type, field_details_list, path)
        return self.complete_awaitable_value(lean.return_type, field_details_list, info, path, value, position_context)

    async def _settled(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        """An object's fields completed later: an error among them is the field's, as in
        graphql-core's own `execute_field`."""
        try:
            return await completed
        except Exception as raw_error:  # noqa: BLE001 - reported as graphql-core reports a field error
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, but a list of objects whose selected fields are all lean, all the way
        down, is rendered in one loop (a page's 20 edges, each with its reel, the reel's counts
        and creator: ~300 fields): no path, no info and no completion dispatch a field. Any item
        it cannot render exactly as graphql-core would (an error, a null where none may be, a
        future, a method asking its info for more than the context) hands the whole list to
        graphql-core, which reads it again: lean reads have no side effects."""
        if self._lean and isinstance(result, list | tuple):
            plan = self._list_plan(return_type, field_details_list)
            if plan is not None:
                try:
                    return self._render_items(plan, return_type.of_type, result)
                except _NotLean:
                    pass
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)

    def _list_plan(
        self, return_type: GraphQLList[GraphQLOutputType], field_details_list: FieldDetailsList
    ) -> _Plan | None:
        if any(details.node.directives for details in field_details_list):  # @stream
            return None
        item_type = return_type.of_type
        item_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        return self._plan(item_type, field_details_list) if isinstance(item_type, GraphQLObjectType) else None

    def _plan(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _Plan | None:
        """The object's selection as lean steps; None if any field (or `@defer`) is not lean."""
        grouped_field_set, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if defer_usages:
            return None
        lean_fields = object_type.extensions.get(LEAN_FIELDS, _NO_LEAN_FIELDS)
        steps = []
        for response_name, details in grouped_field_set.items():
            lean = lean_fields.get(details[0].node.name.value)
            if lean is None:
                return None
            then = None
            if isinstance(lean.type, GraphQLObjectType):
                then = self._plan(lean.type, details)
                if then is None:
                    return None
            steps.append(_Step(response_name, lean, then))
        return _Plan(object_type, steps)

    def _render_items(self, plan: _Plan, item_type: GraphQLOutputType, items: Sequence[Any]) -> list[Any]:
        def more_than_the_context() -> GraphQLResolveInfo[Any]:
            raise _NotLean  # no path here: graphql-core's way builds the info with one

        at_hand = _ContextAtHand(self.context_value, more_than_the_context)
        nullable = not isinstance(item_type, GraphQLNonNull)
        rendered: list[dict[str, Any] | None] = []
        for item in items:
            if item is None and nullable:
                rendered.append(None)
            else:
                rendered.append(self._render(plan, item, at_hand))
        return rendered

    def _render(self, plan: _Plan, source: Any, at_hand: _ContextAtHand) -> dict[str, Any]:
        if source is None or not self._is_type_of(plan.type, source, at_hand):
            raise _NotLean
        rendered: dict[str, Any] = {}
        for response_name, lean, then in plan.steps:
            try:
                value = lean.read(source, at_hand) if lean.takes_info else lean.read(source)
            except Exception as error:  # graphql-core's way reports it
                raise _NotLean from error
            if value is None:
                if lean.type is not lean.return_type:  # non-null
                    raise _NotLean
                rendered[response_name] = None
            elif self.is_awaitable(value):
                if isinstance(value, Coroutine):
                    value.close()  # graphql-core's way loads it again (a loader hands back the same future)
                raise _NotLean
            elif then is not None:
                rendered[response_name] = self._render(then, value, at_hand)
            else:
                try:
                    rendered[response_name] = self.complete_leaf_value(cast(GraphQLLeafType, lean.type), value)
                except Exception as error:  # graphql-core's way reports it
                    raise _NotLean from error
        return rendered

    @staticmethod
    def _is_type_of(object_type: GraphQLObjectType, source: Any, at_hand: _ContextAtHand) -> bool:
        """The object type's check of its value (for a type with interfaces), if it answers True at once."""
        if object_type.is_type_of is None:
            return True
        try:
            return object_type.is_type_of(source, cast("GraphQLResolveInfo[Any]", at_hand)) is True
        except Exception:  # noqa: BLE001 - graphql-core's way reports it
            return False

    def _resolve_info(
        self, parent_type: GraphQLObjectType, field_details_list: FieldDetailsList, path: Path
    ) -> GraphQLResolveInfo[Any]:
        name = field_details_list[0].node.name.value
        return self.build_resolve_info(parent_type.fields[name], to_nodes(field_details_list), parent_type, path)
