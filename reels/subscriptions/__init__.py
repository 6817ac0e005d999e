"""Live events: channel names and the messages published on them.

Publishers (workers, the aggregator, mutations) call `publish_*`; the GraphQL subscription
resolvers subscribe through the pub/sub port, which shares one upstream subscription per channel
per process and gives every subscriber a bounded queue.
"""
