"""API reads and pipeline writes on one embedded chDB: a read never holds up an insert."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from pingan.platform.warehouse import EmbeddedWarehouse

pytestmark = pytest.mark.integration

SLOW_READ = "SELECT count() AS n FROM numbers(3000000000) WHERE cityHash64(number) % 7 = 1"


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[EmbeddedWarehouse]:
    warehouse = EmbeddedWarehouse(tmp_path / "clickhouse", "pingan")
    warehouse.command("CREATE TABLE t (x UInt64) ENGINE = MergeTree ORDER BY x")
    try:
        yield warehouse
    finally:
        warehouse.close()


async def test_an_insert_completes_while_a_long_api_read_still_runs(
    warehouse: EmbeddedWarehouse,
) -> None:
    finished: list[str] = []

    async def read() -> None:
        await warehouse.aread(SLOW_READ + " SETTINGS max_execution_time = 60", None)
        finished.append("read")

    reading = asyncio.create_task(read())
    async with asyncio.timeout(30):
        while not await _slow_read_running(warehouse):
            await asyncio.sleep(0.01)
    await warehouse.ainsert("t", pa.table({"x": pa.array([1, 2, 3], pa.uint64())}))
    finished.append("insert")
    rows = await warehouse.aquery("SELECT count() AS n FROM t")
    finished.append("query")
    await reading
    assert finished == ["insert", "query", "read"]
    assert rows == [{"n": 3}]


async def _slow_read_running(warehouse: EmbeddedWarehouse) -> bool:
    """Asked on the pipeline's handle, which the read must not be holding."""
    rows = await warehouse.aquery(
        "SELECT count() AS n FROM system.processes "
        "WHERE query LIKE '%cityHash64%' AND query NOT LIKE '%system.processes%'"
    )
    return bool(rows[0]["n"])
