"""schemas/clickhouse/README.md, the analysts' reference: it documents every table and view
the migrations create, and each of its example queries runs on chDB holding a simulated week
and answers with rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pingan.platform.warehouse import EmbeddedWarehouse, WarehouseError
from tests.integration.analyst_district import analyst_district

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"
README = (MIGRATIONS / "README.md").read_text(encoding="utf-8")
CREATED = re.compile(
    r"CREATE\s+(?:TABLE|(?:MATERIALIZED\s+)?VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?",
    re.IGNORECASE,
)
EXAMPLES = re.findall(r"^### (.+)\n(?:(?!###).*\n)*?```sql\n([\s\S]*?)```", README, re.M)


def created_by_migrations() -> set[str]:
    names = {"schema_migrations"}  # created by `pingan migrate` before the first file
    for path in MIGRATIONS.glob("*.sql"):
        text = "\n".join(
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("--")
        )
        names |= set(CREATED.findall(text))
    return names


def documented() -> set[str]:
    return set(re.findall(r"^### `(\w+)`$", README, re.MULTILINE))


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    with analyst_district(tmp_path_factory.mktemp("analyst-docs")) as warehouse:
        yield warehouse


def test_every_table_and_view_of_the_migrations_is_documented() -> None:
    tables = created_by_migrations()
    assert {"vehicle_passages", "alerts", "parking_sessions_current"} <= tables, tables
    missing = sorted(tables - documented())
    assert not missing, f"schemas/clickhouse/README.md does not document {missing}"


def test_nothing_documented_that_no_migration_creates() -> None:
    stale = sorted(documented() - created_by_migrations())
    assert not stale, f"schemas/clickhouse/README.md documents tables no migration makes: {stale}"


def test_the_documented_tables_are_the_migrated_ones(district: EmbeddedWarehouse) -> None:
    """The parse above against the database itself: what a migrated chDB really holds."""
    rows = district.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    assert {r["name"] for r in rows} == created_by_migrations()


def test_documented_columns_exist(district: EmbeddedWarehouse) -> None:
    """Each column named in a table's column list is a column of that table."""
    sections = re.split(r"^### `(\w+)`$", README, flags=re.MULTILINE)[1:]
    for table, body in zip(sections[::2], sections[1::2], strict=True):
        named = {
            name
            for cell in re.findall(r"^\| ([^|]+) \|", body, re.MULTILINE)
            for name in re.findall(r"`(\w+)`", cell)
        }
        if not named:
            continue
        columns = {
            r["name"]
            for r in district.query(
                "SELECT name FROM system.columns "
                "WHERE database = currentDatabase() AND table = {table:String}",
                {"table": table},
            )
        }
        assert named <= columns, f"{table}: {sorted(named - columns)} are not its columns"


def test_the_three_questions_of_the_issue_have_examples() -> None:
    titles = " / ".join(title for title, _ in EXAMPLES).lower()
    for question in ("roamed", "unknown visitors", "charging incidents per shed"):
        assert question in titles, question


@pytest.mark.parametrize(("title", "sql"), EXAMPLES, ids=[title for title, _ in EXAMPLES])
def test_example_query_answers(title: str, sql: str, district: EmbeddedWarehouse) -> None:
    try:
        rows = district.query(sql)
    except WarehouseError as error:
        pytest.fail(f"example {title!r} fails: {error}")
    assert rows, f"example {title!r} returned no rows on a simulated week"
