"""Resolvers by domain; `graphql_api.schema` merges their roots into one schema."""
