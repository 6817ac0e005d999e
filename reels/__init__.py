"""Reels: an open short-video platform backend (GraphQL API, media pipeline, ranking)."""
