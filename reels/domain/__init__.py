"""The rules of the platform: plain Python and SQLAlchemy, no GraphQL and no HTTP.

One unit-of-work style for every command (a function that writes): it receives the ports it
needs and the session factory, opens its own transaction and commits it, and sends its jobs and
events only after the commit: `async with unit_of_work(sessions, queue, bus) as work:` when it
has messages to send (reels.domain.unit_of_work), `async with sessions.begin() as session:` when
it has none. A command never takes a caller's open session and never leaves one open; reads may
take a session or a session factory. The lifecycle's transitions are steps, not commands: they
run inside the unit of work of the command (or worker) that calls them.

- `lifecycle`: the reel state machine, the only writer of a reel's status and of the counts
  that follow it; `uploads`, `reels` (deletion) and `moderation` call it, as do the workers.
- `events`: every queue topic and pub/sub channel with its typed message; `keys`: the object
  store layout; `errors`: `ErrorCode` and `DomainError`, which names a domain field (the API
  edge maps it to the input path its clients see).
"""
