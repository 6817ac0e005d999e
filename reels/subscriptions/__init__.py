"""Live events over GraphQL subscriptions.

Channels and their messages are the domain's (reels.domain.events): publishers (workers, the
aggregator, mutations) publish there; the GraphQL subscription resolvers subscribe through the
pub/sub port, which shares one upstream subscription per channel per process and gives every
subscriber a bounded queue. Count events, which go to every subscriber of a reel, are
authorized and rendered once per process by `live_counts`, which writes them to the sockets
that `sockets` names.
"""
