"""How popular a reel is, as one SQL expression over its aggregated counts (`reel_counts`, which
the aggregator writes): what POPULAR sorts, search ranks and explore's trending reels order by.

A like, comment or share says more than a view, so each weighs as much as five views.
"""

from __future__ import annotations

from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, func

from reels.domain.models import Reel, ReelCounts

ENGAGEMENT_WEIGHT = 5

Columns = TypeVarTuple("Columns")


def with_counts(query: Select[*Columns]) -> Select[*Columns]:
    """The query with each reel's counts joined (absent before its first count)."""
    return query.outerjoin(ReelCounts, ReelCounts.reel_id == Reel.id)


def popularity() -> ColumnElement[int]:
    """The popularity of the reel in a query `with_counts`: 0 before any count."""
    engagement = ReelCounts.likes + ReelCounts.comments + ReelCounts.shares
    return func.coalesce(ReelCounts.views + ENGAGEMENT_WEIGHT * engagement, 0)
