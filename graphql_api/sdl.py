"""Prints the public contract (the schema's SDL): `python -m graphql_api.sdl`.

The snapshot in tests/unit/schema.graphql is compared against it, so a change to what
clients see shows up in review as a diff of that file.
"""

from graphql_api.schema import build_schema

if __name__ == "__main__":
    print(build_schema().as_str())
