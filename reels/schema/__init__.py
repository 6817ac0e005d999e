"""The GraphQL schema: types, roots and the limits every request runs under."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig

from reels.schema.chain import ExtensionChain
from reels.schema.errors import MaskUnexpectedErrors, ReelsSchema
from reels.schema.introspection import IntrospectionGate
from reels.schema.lean import LeanExecution, lean_resolvers
from reels.schema.limits import DocumentChecks, Limits, OperationLimits
from reels.schema.mutation import Mutation
from reels.schema.operation_metrics import OperationMetrics
from reels.schema.query import Query
from reels.schema.reads import PrimaryAfterWrites
from reels.schema.scalars import DATETIME_UTC
from reels.schema.strings import RefuseLoneSurrogates
from reels.schema.subscription import Subscription
from reels.schema.transports import SubscriptionsOverWebSockets
from reels.schema.types import Audio, Comment, Hashtag, Reel, Report, User
from reels.settings import Settings


def build_schema(settings: Settings) -> strawberry.Schema:
    # Extensions are factories: strawberry builds a fresh instance per operation, so no state
    # leaks between requests. What is shared is kept on purpose: one parsed document and one
    # verdict of the document-only limits per distinct query text (thousands of sockets
    # subscribing with the same text share a syntax tree), bounded by estimated memory.
    checks = DocumentChecks(
        Limits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_cost=settings.max_query_cost,
            max_page_size=settings.max_page_size,
        ),
        cache_bytes=settings.document_cache_bytes,
    )
    schema = ReelsSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Reel, Comment, Hashtag, Audio, Report],
        config=StrawberryConfig(scalar_map={datetime: DATETIME_UTC}),
        execution_context_class=LeanExecution,
        extensions=[
            ExtensionChain.of(
                [
                    lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
                    RefuseLoneSurrogates,
                    # After every extension that adds validation rules: it runs the validation.
                    lambda: OperationLimits(checks),
                    lambda: IntrospectionGate(settings.introspection_access),
                    SubscriptionsOverWebSockets,
                    MaskUnexpectedErrors,
                    OperationMetrics,
                    PrimaryAfterWrites,
                ]
            )
        ],
    )
    lean_resolvers(schema._schema, schema.config.info_class)
    return schema
