"""The rules of the platform: plain Python and SQLAlchemy, no GraphQL and no HTTP."""
