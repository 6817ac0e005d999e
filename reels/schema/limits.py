"""API limits that are part of the contract: page size and a static query cost (Shopify-style),
checked before execution, plus the cost reported in `extensions.cost`.

Cost: a scalar or enum field 0, an object field 1 + its selection, a field with a `first`
argument (connections, search lists) 2 + first × its selection, a mutation field 10 more.
Depth, alias and token limits use strawberry's own extensions (see `reels.schema.build_schema`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as ExecutedOperationType

MUTATION_COST = 10


class QueryCost:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size
        self.errors: list[GraphQLError] = []

    def of_operation(self, operation: OperationDefinitionNode) -> int:
        root = {
            OperationType.QUERY: self.schema.query_type,
            OperationType.MUTATION: self.schema.mutation_type,
            OperationType.SUBSCRIPTION: self.schema.subscription_type,
        }[operation.operation]
        if root is None:
            return 0
        per_field = MUTATION_COST if operation.operation == OperationType.MUTATION else 0
        return sum(
            per_field + self._field(parent, field, seen)
            for parent, field, seen in self._fields(root, operation.selection_set, ())
        )

    def _fields(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None, seen: tuple[str, ...]
    ) -> Iterator[tuple[GraphQLNamedType, FieldNode, tuple[str, ...]]]:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield parent, selection, seen
            elif isinstance(selection, InlineFragmentNode):
                on = self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                yield from self._fields(on or parent, selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # unknown or cyclic: validation reports it
                    continue
                on = self.schema.get_type(fragment.type_condition.name.value) or parent
                yield from self._fields(on, fragment.selection_set, (*seen, name))

    def _field(self, parent: GraphQLNamedType, node: FieldNode, seen: tuple[str, ...]) -> int:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        children = sum(self._field(p, f, s) for p, f, s in self._fields(named, node.selection_set, seen))
        if "first" not in definition.args:
            return 1 + children
        return 2 + self._first(definition.args["first"], node) * children

    def _first(self, argument: Any, node: FieldNode) -> int:
        value = argument.default_value
        for arg in node.arguments or ():
            if arg.name.value == "first":
                value = value_from_ast(arg.value, argument.type, self.variables)
        if value is None:  # an explicit null means the default
            value = argument.default_value
        if not isinstance(value, int) or not 0 <= value <= self.max_page_size:
            self.errors.append(
                GraphQLError(
                    f"`first` must be between 0 and {self.max_page_size}, got {value}",
                    nodes=[node],
                    extensions={"code": "PAGE_SIZE_LIMIT"},
                )
            )
            return 0
        return value


class QueryCostLimiter(SchemaExtension):
    """Rejects over-large pages and over-costly operations before execution; reports the cost."""

    def __init__(self, *, max_cost: int, max_page_size: int) -> None:
        self.max_cost = max_cost
        self.max_page_size = max_page_size
        self.cost: int | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        extension = self

        class CostRule(ValidationRule):
            def enter_document(self, document: Any, *_: Any) -> None:
                fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
                operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
                chosen = [
                    op
                    for op in operations
                    if context.operation_name is None or (op.name and op.name.value == context.operation_name)
                ]
                vctx: ValidationContext = self.context
                measure = QueryCost(vctx.schema, fragments, context.variables or {}, extension.max_page_size)
                extension.cost = sum(measure.of_operation(op) for op in chosen[:1])
                for error in measure.errors:
                    vctx.report_error(error)
                if not measure.errors and extension.cost > extension.max_cost:
                    vctx.report_error(
                        GraphQLError(
                            f"query cost {extension.cost} exceeds the limit of {extension.max_cost}; "
                            "ask for smaller pages or fewer fields",
                            extensions={"code": "QUERY_COST_LIMIT", "cost": extension.cost},
                        )
                    )

        context.validation_rules = (*context.validation_rules, CostRule)
        yield

    def get_results(self) -> dict[str, Any]:
        # A subscription is costed when it starts; its events do not repeat the figure.
        if self.cost is None or self.execution_context.operation_type is ExecutedOperationType.SUBSCRIPTION:
            return {}
        return {"cost": {"requestedQueryCost": self.cost, "maximumQueryCost": self.max_cost}}
