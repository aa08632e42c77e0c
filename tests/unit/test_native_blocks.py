"""chDB's revision-0 Native output, re-encoded at the revision ClickHouse clients ask for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import chdb
import pytest
from clickhouse_connect.driver.query import QueryContext
from clickhouse_connect.driver.transform import NativeTransform
from clickhouse_connect.driverc.buffer import ResponseBuffer

from graphql_api.native_blocks import at_revision, client_revision, layout_of, varint
from graphql_api.sql_policy import ClickHouseError

GRAFANA_REVISION = 54460
"""clickhouse-go v2's client_protocol_version: block info and custom-serialization bytes."""
CLICKHOUSE_CONNECT_REVISION = 54405
"""clickhouse-connect's: block info only."""

EVERY_TYPE = r"""
SELECT
    toUInt8(number) AS u8, toInt16(-number) AS i16, toUInt32(number) AS u32,
    toInt64(number) AS i64, toUInt128(number) AS u128, toInt256(-number) AS i256,
    toFloat32(number / 3) AS f32, number / 7 AS f64, number % 2 = 1 AS flag,
    toDate('2026-12-06') + number AS day, toDate32('1950-01-01') AS day32,
    toDateTime('2026-12-06 10:00:00', 'Asia/Shanghai') + number AS at,
    toDateTime64('2026-12-06 10:00:00.123', 3, 'Asia/Shanghai') AS at64,
    toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0') AS id,
    toIPv4('10.0.0.1') AS ip4, toIPv6('2001:db8::1') AS ip6,
    toDecimal32(1.5, 2) AS dec32, toDecimal64(2.25, 4) AS dec64,
    toDecimal128(3.5, 10) AS dec128, toDecimal256(4.5, 20) AS dec256,
    CAST('b,(', 'Enum8(\'a\' = 1, \'b,(\' = 2)') AS enum8,
    CAST('y', 'Enum16(\'x\' = 1000, \'y\' = 2000)') AS enum16,
    concat('鄂A', repeat('8', toUInt32(number * 70))) AS plate, toFixedString('ab', 3) AS fixed,
    if(number % 2 = 0, NULL, number) AS maybe_number,
    if(number % 2 = 0, NULL, toString(number)) AS maybe_text,
    range(number) AS numbers, [[toString(number)], []] AS nested_arrays,
    [if(number = 1, NULL, 'x')] AS maybe_texts,
    tuple(number, 'x') AS pair, CAST((1, 'y'), 'Tuple(a UInt8, `b c` String)') AS named,
    map('k', number, 'z', 2) AS counts,
    CAST(map('k', [1, 2]), 'Map(LowCardinality(String), Array(UInt8))') AS keyed,
    toLowCardinality(toString(number % 3)) AS community,
    toLowCardinality(if(number = 1, NULL, 'n')) AS maybe_community,
    [toLowCardinality('q'), toLowCardinality(toString(number))] AS communities,
    NULL AS nothing, (1.5, 2.5)::Point AS point, [[(0., 0.), (1., 1.)]]::Polygon AS area,
    toTime('10:00:00') AS clock,
    toTime64('10:00:00.5', 3) AS clock64,
    CAST(number, 'SimpleAggregateFunction(sum, UInt64)') AS total
FROM numbers(5)
SETTINGS max_block_size = 2
"""


def _native(sql: str) -> bytes:
    return bytes(chdb.query(sql, "Native").bytes())


class _Chunks:
    """clickhouse-connect's response source, fed from memory."""

    def __init__(self, data: bytes) -> None:
        self.gen: Iterator[bytes] = iter([data])

    def close(self) -> None:
        return None


def _rows(native: bytes, block_info: bool) -> list[tuple[Any, ...]]:
    """clickhouse-connect's own Native parser; `block_info` is how it reads revision 54405."""
    context = QueryContext()
    context.block_info = block_info
    result = NativeTransform.parse_response(ResponseBuffer(_Chunks(native)), context)
    return list(result.result_rows)


def _without_revision(native: bytes) -> bytes:
    """Back to revision 0, checking each block's info and each column's serialization byte."""
    revision_zero = bytearray()
    pos = 0
    while pos < len(native):
        assert native[pos : pos + 8] == b"\x01\x00\x02\xff\xff\xff\xff\x00"
        start = pos = pos + 8
        columns, pos = varint(native, pos)
        rows, pos = varint(native, pos)
        for _ in range(columns):
            for _header in ("name", "type"):
                length, pos = varint(native, pos)
                type_name = native[pos : pos + length].decode()
                pos += length
            revision_zero += native[start:pos]
            assert native[pos] == 0, type_name
            start = pos = pos + 1
            if rows:
                layout = layout_of(type_name)
                pos = layout.skip(native, layout.prefix(native, pos), rows)
        revision_zero += native[start:pos]
    return bytes(revision_zero)


def test_a_small_block_gains_its_info_and_serialization_bytes() -> None:
    revision_zero = _native("SELECT toUInt8(7) AS n, 'x' AS s")
    assert revision_zero == b"\x02\x01\x01n\x05UInt8\x07\x01s\x06String\x01x"
    assert at_revision(revision_zero, GRAFANA_REVISION) == (
        b"\x01\x00"  # BlockInfo field 1, is_overflows: false
        b"\x02\xff\xff\xff\xff"  # field 2, bucket_num: -1
        b"\x00"  # end of BlockInfo
        b"\x02\x01"  # 2 columns, 1 row
        b"\x01n\x05UInt8\x00"  # name, type, no custom serialization
        b"\x07"
        b"\x01s\x06String\x00"
        b"\x01x"
    )
    assert at_revision(revision_zero, CLICKHOUSE_CONNECT_REVISION) == (
        b"\x01\x00\x02\xff\xff\xff\xff\x00" + revision_zero
    )
    assert at_revision(revision_zero, 0) == revision_zero


def test_every_supported_type_round_trips() -> None:
    revision_zero = _native(EVERY_TYPE)
    expected = _rows(revision_zero, block_info=False)
    assert len(expected) == 5
    with_block_info = at_revision(revision_zero, CLICKHOUSE_CONNECT_REVISION)
    assert with_block_info.count(b"\x01\x00\x02\xff\xff\xff\xff\x00\x2a") == 3
    assert _rows(with_block_info, block_info=True) == expected
    assert _without_revision(at_revision(revision_zero, GRAFANA_REVISION)) == revision_zero


def test_intervals_are_walked() -> None:
    """clickhouse-connect misreads Interval columns, so only their walk is checked."""
    intervals = _native("SELECT toIntervalSecond(number) AS pause, 'x' AS s FROM numbers(3)")
    assert _without_revision(at_revision(intervals, GRAFANA_REVISION)) == intervals


def test_empty_answers_stay_empty() -> None:
    assert at_revision(_native("SELECT 1 AS x WHERE 0"), GRAFANA_REVISION) == b""
    empty_lists = _native("SELECT CAST([], 'Array(LowCardinality(String))') AS e")
    assert _without_revision(at_revision(empty_lists, GRAFANA_REVISION)) == empty_lists


@pytest.mark.parametrize(
    "expression",
    [
        """'{"a": 1}'::JSON""",
        "1::Dynamic",
        "1::Variant(UInt8, String)",
        "sumState(1)",
        "[(1, '{}'::JSON)]",
    ],
)
def test_types_that_cannot_be_sized_ask_for_a_cast(expression: str) -> None:
    native = _native(f"SELECT 1 AS fine, {expression} AS payload")
    with pytest.raises(ClickHouseError) as refused:
        at_revision(native, GRAFANA_REVISION)
    assert refused.value.code == 48
    assert "column 'payload' of type" in refused.value.message
    assert "CAST it to String" in refused.value.message


def test_the_protocol_version_parameter_is_bounded() -> None:
    assert client_revision(None) == 0
    assert client_revision("54460") == GRAFANA_REVISION
    for wrong in ("-1", "5446O", "9" * 11):
        with pytest.raises(ClickHouseError, match="client_protocol_version"):
            client_revision(wrong)
    with pytest.raises(ClickHouseError, match="54405 and later"):
        at_revision(_native("SELECT 1 AS x"), 54337)
