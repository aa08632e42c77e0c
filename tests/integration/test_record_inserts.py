"""Whatever a stored record's model accepts, its table takes: the property behind a sink
that never stalls on a value (issue 15: a UInt16 schema_version of 70000 stopped one).

Records are generated from the models' own bounds (tests/record_strategies.py), extremes
included, sent through the JSON the stream carries, converted to Arrow with the sink's
schema and inserted into a real chDB migrated like production.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pingan.platform.settings import Settings
from pingan.platform.warehouse import EmbeddedWarehouse, migrate
from schemas.codec import decode, encode
from schemas.events import Record
from schemas.topics import ALL_TOPICS, Topic
from tests.record_strategies import record_values

pytestmark = pytest.mark.integration

STORED = [t for t in ALL_TOPICS if t.record is not None and t.table is not None]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    data_dir = tmp_path_factory.mktemp("record-inserts")
    warehouse = EmbeddedWarehouse(data_dir / "clickhouse", "pingan")
    try:
        migrate(warehouse, Settings(data_dir=data_dir))
        yield warehouse
    finally:
        warehouse.close()


@pytest.mark.parametrize("topic", STORED, ids=lambda t: t.table)
def test_every_record_the_model_accepts_inserts(warehouse: EmbeddedWarehouse, topic: Topic) -> None:
    assert topic.record is not None and topic.table is not None
    schema = warehouse.arrow_schema(topic.table)
    record_type = topic.record

    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(record_values(record_type), min_size=1, max_size=8))
    def inserts(values: list[dict[str, Any]]) -> None:
        records = [_accepted(record_type, v) for v in values]
        rows = [_row(record, offset) for offset, record in enumerate(records)]
        warehouse.insert(topic.table, pa.Table.from_pylist(rows, schema=schema))

    inserts()


def _accepted(record_type: type[Record], values: dict[str, Any]) -> Record:
    """The record as the stream's intake sees it: after a trip through its JSON."""
    try:
        record = record_type.model_validate(values)
    except ValidationError:
        reject()
    return decode(encode(record), record_type)


def _row(record: Record, offset: int) -> dict[str, Any]:
    row = record.row()
    row["kafka_partition"] = 0
    row["kafka_offset"] = offset
    return row
