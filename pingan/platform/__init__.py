"""The platform floor: settings, Kafka I/O, the warehouse and the local stack.

Everything above (ingest, streams, graphql_api, and the CLI on top) stands on it; it stands
on `schemas` alone.
"""
