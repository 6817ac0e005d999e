"""API limits that are part of the contract, checked before execution: depth, aliases, page size,
a static query cost (Shopify-style, reported in `extensions.cost`), and one operation per request
unless `operationName` picks one. Tokens are limited by the parser itself (strawberry's
MaxTokensLimiter sets its `max_tokens`).

Cost: a scalar or enum field 0, an object field 1 + its selection, a field with a `first`
argument (connections, search lists) 2 + first × its selection, a mutation field 10 more.

Every measure visits each fragment once (a fragment spread twice in twenty levels costs twenty
visits, not 2^20), and the checks that need only the document (depth, aliases, then
graphql-core's rules) run once per distinct document: the verdict is kept with the parsed
document in a cache bounded by its estimated memory. Cost depends on the variables (`first: $n`)
and is measured per request, in time linear in the document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cachetools import LRUCache
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    TokenKind,
    VariableNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType as ExecutedOperationType

MUTATION_COST = 10

# What a parsed document holds per character of its text, measured with tracemalloc on the
# API's own queries (100–180 bytes); string literals hold about one. An estimate on the high
# side keeps the cache's bound a bound.
DOCUMENT_BYTES_PER_CHARACTER = 128

# No argument takes a number this long (an Int has at most 11 characters); graphql-core's Int
# parsing fails with an unexpected ValueError past Python's 4,300-digit limit.
MAX_NUMBER_CHARACTERS = 100


def _fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _operations_of(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


class _PerFragment:
    """Measures selection sets bottom-up, each named fragment once. A spread of an unknown
    fragment, or of one being measured (a cycle), counts nothing: validation reports both."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], of_set: Callable[[SelectionSetNode], int]) -> None:
        self.fragments = fragments
        self.of_set = of_set
        self.measured: dict[str, int] = {}
        self.measuring: set[str] = set()

    def of_spread(self, name: str) -> int:
        if name in self.measured:
            return self.measured[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.measuring:
            return 0
        self.measuring.add(name)
        self.measured[name] = self.of_set(fragment.selection_set)
        self.measuring.discard(name)
        return self.measured[name]


def operation_depth(document: DocumentNode, operation: OperationDefinitionNode) -> int:
    """How many fields deep the operation's deepest field sits (top-level fields are 0, as in
    strawberry's QueryDepthLimiter); introspection fields are not followed."""

    def of_set(selection_set: SelectionSetNode) -> int:
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set and not selection.name.value.startswith("__"):
                    deepest = max(deepest, 1 + of_set(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, of_set(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, per_fragment.of_spread(selection.name.value))
        return deepest

    per_fragment = _PerFragment(_fragments_of(document), of_set)
    return of_set(operation.selection_set)


def alias_count(document: DocumentNode) -> int:
    """Aliased fields over all operations, each spread of a fragment counting its aliases again
    (as strawberry's MaxAliasesLimiter counts them)."""

    def of_set(selection_set: SelectionSetNode) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1 if selection.alias else 0
                count += of_set(selection.selection_set) if selection.selection_set else 0
            elif isinstance(selection, InlineFragmentNode):
                count += of_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += per_fragment.of_spread(selection.name.value)
        return count

    per_fragment = _PerFragment(_fragments_of(document), of_set)
    return sum(of_set(operation.selection_set) for operation in _operations_of(document))


@dataclass
class _Measure:
    cost: int = 0
    fields: int = 0

    def add(self, other: _Measure) -> None:
        self.cost += other.cost
        self.fields += other.fields


class QueryCost:
    """The cost of one operation of a valid document, with the page-size errors found on the way."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        coerced_variables: VariableValues,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.coerced_variables = coerced_variables
        self.max_page_size = max_page_size
        self.errors: list[GraphQLError] = []
        self.measured: dict[str, _Measure] = {}
        self.measuring: set[str] = set()

    def of_operation(self, operation: OperationDefinitionNode) -> int:
        root = {
            OperationType.QUERY: self.schema.query_type,
            OperationType.MUTATION: self.schema.mutation_type,
            OperationType.SUBSCRIPTION: self.schema.subscription_type,
        }[operation.operation]
        if root is None:
            return 0
        measure = self._set(root, operation.selection_set)
        per_field = MUTATION_COST if operation.operation == OperationType.MUTATION else 0
        return measure.cost + per_field * measure.fields

    def _set(self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None) -> _Measure:
        """The cost of a selection set and how many fields it selects, fragments expanded."""
        measure = _Measure()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                measure.add(_Measure(self._field(parent, selection), 1))
            elif isinstance(selection, InlineFragmentNode):
                on = self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                measure.add(self._set(on or parent, selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                measure.add(self._fragment(selection.name.value, parent))
        return measure

    def _fragment(self, name: str, parent: GraphQLNamedType) -> _Measure:
        if name in self.measured:
            return self.measured[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.measuring:  # unknown or cyclic: validation reports it
            return _Measure()
        self.measuring.add(name)
        on = self.schema.get_type(fragment.type_condition.name.value) or parent
        self.measured[name] = self._set(on, fragment.selection_set)
        self.measuring.discard(name)
        return self.measured[name]

    def _field(self, parent: GraphQLNamedType, node: FieldNode) -> int:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        children = self._set(named, node.selection_set).cost
        if "first" not in definition.args:
            return 1 + children
        return 2 + self._first(definition, node) * children

    def _first(self, definition: GraphQLField, node: FieldNode) -> int:
        # graphql-core's own reading: an argument left out, or given a variable that was not
        # supplied and has no default, takes the field argument's default.
        value = get_argument_values(definition, node, self.coerced_variables).get("first")
        if value is None:  # an explicit null means the default
            value = definition.args["first"].default_value
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


# The costs kept per document: one per operation and page sizes asked (a client asks a few).
COSTS_PER_DOCUMENT = 32


@dataclass
class _CheckedDocument:
    document: DocumentNode
    weight: int
    # The verdict of the document-only checks, with the graphql-core rules it was reached under.
    verdict: tuple[tuple[type[ASTValidationRule], ...], list[GraphQLError]] | None = field(default=None)
    # A cost depends on the document, the operation and the page sizes only: the costs within
    # the limits, by (operation name, the values of the variables `first` arguments take).
    costs: dict[tuple[str | None, tuple[Any, ...]], int] = field(default_factory=dict)

    @cached_property
    def page_size_variables(self) -> tuple[str, ...]:
        """The variables any `first` argument of the document takes, in order."""
        return tuple(sorted(_first_variables(self.document)))


def _first_variables(document: DocumentNode) -> set[str]:
    found: set[str] = set()

    def walk(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                for argument in selection.arguments or ():
                    if argument.name.value == "first" and isinstance(argument.value, VariableNode):
                        found.add(argument.value.name.value)
            if isinstance(selection, FieldNode | InlineFragmentNode):
                walk(selection.selection_set)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            walk(definition.selection_set)
    return found


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_cost: int
    max_page_size: int


class DocumentChecks:
    """One per schema: the parsed documents and their verdicts, shared by every request."""

    def __init__(self, limits: Limits, cache_bytes: int) -> None:
        self.limits = limits
        self.documents: LRUCache[str, _CheckedDocument] = LRUCache(
            maxsize=cache_bytes, getsizeof=lambda entry: entry.weight
        )

    def cached(self, query: str) -> _CheckedDocument | None:
        return self.documents.get(query)

    def keep(self, query: str, document: DocumentNode) -> None:
        entry = _CheckedDocument(document, DOCUMENT_BYTES_PER_CHARACTER * len(query))
        if entry.weight <= self.documents.maxsize:  # a larger one is parsed again each time
            self.documents[query] = entry

    def verdict(
        self,
        schema: GraphQLSchema,
        query: str | None,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        entry = self.documents.get(query) if query is not None else None
        if entry is not None and entry.document is document and entry.verdict and entry.verdict[0] == rules:
            return list(entry.verdict[1])  # the request's own list: the kept one stays as it was
        # The limits first: they are linear in the document, and a document they refuse is not
        # worth graphql-core's rules.
        errors = self._limit_errors(document) or validate_document(schema, document, rules)
        if entry is not None and entry.document is document:
            entry.verdict = (rules, errors)
        return errors

    def _limit_errors(self, document: DocumentNode) -> list[GraphQLError]:
        errors = _oversized_numbers(document)
        for operation in _operations_of(document):
            if operation_depth(document, operation) > self.limits.max_depth:
                name = operation.name.value if operation.name else "anonymous"
                errors.append(
                    GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {self.limits.max_depth}",
                        nodes=[operation],
                        extensions={"code": "QUERY_DEPTH_LIMIT"},
                    )
                )
        aliases = alias_count(document)
        if aliases > self.limits.max_aliases:
            errors.append(
                GraphQLError(
                    f"{aliases} aliases found. Allowed: {self.limits.max_aliases}",
                    extensions={"code": "ALIAS_LIMIT"},
                )
            )
        return errors


def _oversized_numbers(document: DocumentNode) -> list[GraphQLError]:
    token = document.loc.start_token if document.loc else None
    while token is not None:
        if token.kind in (TokenKind.INT, TokenKind.FLOAT) and len(token.value or "") > MAX_NUMBER_CHARACTERS:
            return [
                GraphQLError(
                    f"a number of {len(token.value or '')} characters is longer than any argument takes",
                    extensions={"code": "INVALID"},
                )
            ]
        token = token.next
    return []


class OperationLimits(SchemaExtension):
    """Parses each distinct document once, checks it once (depth, aliases, graphql-core's rules),
    and per request refuses an ambiguous document or an over-large page or cost; reports the cost.

    Parsing itself stays strawberry's, under the token limit: only a document that parsed is
    kept, and a syntax error is answered the usual way.
    """

    def __init__(self, checks: DocumentChecks) -> None:
        self.checks = checks
        self.cost: int | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        entry = self.checks.cached(query) if query is not None and context.graphql_document is None else None
        if entry is not None:
            context.graphql_document = entry.document
        yield
        if entry is None and query is not None and context.graphql_document is not None:
            self.checks.keep(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            errors = self.checks.verdict(context.schema._schema, context.query, document, context.validation_rules)
            # Setting the errors (even none) tells strawberry validation is done.
            context.pre_execution_errors = errors or self._operation_errors(document)
        yield

    def _operation_errors(self, document: DocumentNode) -> list[GraphQLError]:
        context = self.execution_context
        operations = _operations_of(document)
        # strawberry would run the first operation; the GraphQL spec says the request is in error.
        if len(operations) > 1 and context._provided_operation_name is None:
            return [
                GraphQLError(
                    f"the document holds {len(operations)} operations: name the one to run in `operationName`",
                    extensions={"code": "OPERATION_NAME_REQUIRED"},
                )
            ]
        chosen = next(
            (
                op
                for op in operations
                if context.operation_name is None or (op.name and op.name.value == context.operation_name)
            ),
            None,
        )
        if chosen is None:
            return []
        schema = context.schema._schema
        # Coerced as execution will coerce them: a declared default stands in for a variable
        # not supplied. Variables that do not coerce are refused with execution's own errors.
        coerced = get_variable_values(schema, chosen.variable_definitions or (), context.variables or {})
        if isinstance(coerced, list):
            return coerced
        limits = self.checks.limits
        cost, keep = self._kept_cost(document, coerced)
        if cost is None:
            measure = QueryCost(schema, _fragments_of(document), coerced, limits.max_page_size)
            cost = measure.of_operation(chosen)
            if measure.errors:
                return measure.errors
            keep(cost)
        self.cost = cost
        if self.cost > limits.max_cost:
            return [
                GraphQLError(
                    f"query cost {self.cost} exceeds the limit of {limits.max_cost}; ask for smaller pages or fewer fields",
                    extensions={"code": "QUERY_COST_LIMIT", "cost": self.cost},
                )
            ]
        return []

    def _kept_cost(self, document: DocumentNode, coerced: VariableValues) -> tuple[int | None, Callable[[int], None]]:
        """The cost measured before for this document, operation and page sizes, if any, and
        how to keep a newly measured one (nothing is kept for a document not in the cache)."""
        query = self.execution_context.query
        entry = self.checks.cached(query) if query is not None else None
        if entry is None or entry.document is not document:
            return None, lambda cost: None
        sizes = tuple(coerced.coerced.get(name) for name in entry.page_size_variables)
        key = (self.execution_context.operation_name, sizes)

        def keep(cost: int) -> None:
            if len(entry.costs) < COSTS_PER_DOCUMENT:
                entry.costs[key] = cost

        return entry.costs.get(key), keep

    def get_results(self) -> dict[str, Any]:
        # A subscription is costed when it starts; its events do not repeat the figure.
        if self.cost is None or self.execution_context.operation_type is ExecutedOperationType.SUBSCRIPTION:
            return {}
        return {"cost": {"requestedQueryCost": self.cost, "maximumQueryCost": self.checks.limits.max_cost}}
