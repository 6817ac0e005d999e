"""Thin resolvers: parse GraphQL arguments, call the domain, map results to schema types."""
