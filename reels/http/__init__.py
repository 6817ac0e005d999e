"""The HTTP edge: the Starlette app, GraphQL over HTTP and websockets, health, metrics, media."""
