"""The follow graph: follows, blocks and mutes (see `reels.graph.port`)."""

from reels.graph.port import Cursor, Edge, FollowGraph, FollowResult, Page, Suggestion, from_settings

__all__ = ["Cursor", "Edge", "FollowGraph", "FollowResult", "Page", "Suggestion", "from_settings"]
