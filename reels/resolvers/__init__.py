"""Thin resolvers: the request Context and plain arguments in (database ids, keyset positions),
one domain call, domain rows out (or small dataclasses: `pages.Page`, `accounts.SignedIn`).
The schema above decodes the GraphQL arguments and shows the rows as its types; resolvers
import no strawberry type. Every per-request look-up goes through `context.loaders`."""
