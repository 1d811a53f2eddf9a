"""The GraphQL graph: strawberry types, queries, loaders and extensions."""
