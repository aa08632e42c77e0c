"""The GraphQL schema is the police clients' contract: any change to it is a reviewed diff."""

from __future__ import annotations

from pathlib import Path

from graphql_api.schema import build_schema

SNAPSHOT = Path(__file__).with_name("schema.graphql")


def test_the_schema_matches_its_snapshot() -> None:
    current = build_schema().as_str() + "\n"
    assert current == SNAPSHOT.read_text(encoding="utf-8"), (
        "the public GraphQL schema changed: if on purpose, run "
        "`python -m graphql_api.sdl > tests/unit/schema.graphql` and review the diff"
    )
