"""The GraphQL schema: types, roots and the limits every request runs under."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from reels.schema.errors import MaskUnexpectedErrors, ReelsSchema
from reels.schema.limits import QueryCostLimiter
from reels.schema.mutation import Mutation
from reels.schema.operation_metrics import OperationMetrics
from reels.schema.query import Query
from reels.schema.scalars import DATETIME_UTC
from reels.schema.subscription import Subscription
from reels.schema.transports import SubscriptionsOverWebSockets
from reels.schema.types import Audio, Comment, Hashtag, Reel, Report, User
from reels.settings import Settings


def build_schema(settings: Settings) -> strawberry.Schema:
    # Extensions are factories: strawberry builds a fresh instance per operation, so no state
    # leaks between requests.
    return ReelsSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Reel, Comment, Hashtag, Audio, Report],
        config=StrawberryConfig(scalar_map={datetime: DATETIME_UTC}),
        extensions=[
            # One parsed document per distinct query text: thousands of sockets subscribing with
            # the same text share it instead of keeping a syntax tree each.
            lambda: ParserCache(maxsize=1024),
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: QueryCostLimiter(max_cost=settings.max_query_cost, max_page_size=settings.max_page_size),
            SubscriptionsOverWebSockets,
            MaskUnexpectedErrors,
            OperationMetrics,
        ],
    )
