"""Field resolvers called without strawberry's per-call wrapping, where it does nothing.

For each field with a resolver, strawberry wraps the call in a chain made for arguments, field
extensions and permissions: it converts the (absent) arguments, threads the call through the
(empty) extensions and three more layers before the method runs. A page of 20 reels calls ~80
such resolvers (`thumbnailUrl`, `viewerHasLiked`, `counts`, `creator`, ...), and that chain was
about a fifth of the page's CPU. A resolver that takes no arguments and has no extensions,
permissions or root/parent parameter is called here directly with the same `Info` strawberry
would pass; everything else keeps strawberry's path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

Resolve = Callable[[Any, GraphQLResolveInfo[Any]], Any]


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
    """Swap the eligible fields' resolvers in graphql-core's schema; how many were swapped."""
    swapped = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType):
            continue
        for graphql_field in named.fields.values():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(field, StrawberryField):
                call = _lean_call(field, info_class)
                if call is not None:
                    graphql_field.resolve = call
                    swapped += 1
    return swapped
