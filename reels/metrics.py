"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

GRAPHQL_REQUESTS = Counter(
    "reels_graphql_requests_total", "GraphQL operations by name, type and outcome", ["operation", "type", "outcome"]
)
GRAPHQL_LATENCY = Histogram(
    "reels_graphql_request_seconds",
    "GraphQL operation latency",
    ["operation", "type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REPLICATION_LAG = Histogram(
    "reels_replication_lag_seconds",
    "From a reel turning READY until its media are in every replica store",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
AGGREGATOR_EVENTS = Counter("reels_aggregator_events_total", "Engagement events applied to counts")
AGGREGATOR_FLUSH_SECONDS = Histogram(
    "reels_aggregator_flush_seconds",
    "Time of one aggregator flush (one transaction)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LIVE_COUNT_FEEDS = Gauge("reels_live_count_feeds", "Reels whose live counts this process streams")
LIVE_COUNT_SUBSCRIBERS = Gauge("reels_live_count_subscribers", "reelCounts subscriptions this process serves")
QUEUE_DEPTH = Gauge("reels_queue_depth", "Messages not yet acknowledged, per topic and group", ["topic", "group"])
FEED_RANKER = Gauge(
    "reels_feed_ranker_info",
    "The ranker the For You feed scores with: 'learned' (with its version) or 'heuristic' before any is published",
    ["scorer", "version"],
)
FEED_FALLBACKS = Counter(
    "reels_feed_fallbacks_total", "For You lists served in trending order because ranking failed", ["reason"]
)
FEED_BUILD_SECONDS = Histogram(
    "reels_feed_build_seconds",
    "Time to build one ranked For You list (candidates, features, scoring, re-ranking)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5),
)
