"""Every field of every stored record is bounded by the column that stores it.

Column types are read from the migrations (schemas/clickhouse/*.sql), tables from the topic
catalogue the sink writes by, and each field is tried at its column's limits: the first
value beyond them is refused by the model (so the webhook and the stream's intake refuse
it with a reason, and it is dead-lettered, instead of failing the sink's insert), and the
extremes the model declares are accepted. A field added without bounds, or whose bounds
outgrow its column, fails here.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any, get_args, get_origin

import orjson
import pytest
from hypothesis import Phase, find, settings
from pydantic import ValidationError

from pingan.platform.warehouse import MIGRATIONS_DIR
from schemas.bounds import DATETIME64_MAX, DATETIME64_MIN, FLOAT32_MAX, JSON_TEXT_MAX_LENGTH
from schemas.codec import DecodeError, decode
from schemas.events import Record
from schemas.topics import ALL_TOPICS, VEHICLE_PASSAGES
from tests.record_strategies import base_type, constraints, record_values, unwrap

STORED = [t for t in ALL_TOPICS if t.record is not None and t.table is not None]
SINK_COLUMNS = {"kafka_partition", "kafka_offset"}
"""Written by the sink from the message's position, not by the record."""

INTEGER_RANGES = {
    f"{sign}Int{bits}": (0, 2**bits - 1) if sign else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    for sign in ("U", "")
    for bits in (8, 16, 32, 64)
}
FLOAT_LIMITS = {"Float32": FLOAT32_MAX, "Float64": 1.7976931348623157e308}
MAX_TEXT = {"LowCardinality": 256, "String": JSON_TEXT_MAX_LENGTH}
"""The longest string limit allowed per column kind: a LowCardinality column's values are
labels and ids; a String's at most a document."""
ONE_MS = timedelta(milliseconds=1)

Case = tuple[Any, bool | None]
"""A value for the field, and whether the model must accept it (None: refuse it, or store
it cleaned of what the column must not hold)."""


# --- the DDL ----------------------------------------------------------------------------


@cache
def table_columns() -> dict[str, dict[str, str]]:
    """Each table's columns and their types, after every migration."""
    tables: dict[str, dict[str, str]] = {}
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text())
        text = re.sub(r"COMMENT\s+'(?:[^'\\]|\\.)*'", "", text)
        for statement in text.split(";"):
            _apply(statement.strip(), tables)
    return tables


def _apply(statement: str, tables: dict[str, dict[str, str]]) -> None:
    created = re.match(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\(", statement)
    if created:
        body = statement[created.end() : _closing(statement, created.end() - 1)]
        tables[created.group(1)] = dict(
            _column(line) for line in _split(body) if not line.startswith(("INDEX", "PROJECTION"))
        )
        return
    altered = re.match(
        r"ALTER TABLE (\w+) (?:ADD|MODIFY) COLUMN (?:IF NOT EXISTS )?(.*)", statement, re.S
    )
    if altered:
        name, kind = _column(altered.group(2))
        tables[altered.group(1)][name] = kind


def _column(definition: str) -> tuple[str, str]:
    name, rest = definition.strip().split(None, 1)
    return name.strip("`"), _leading_type(rest)


def _leading_type(text: str) -> str:
    """The type at the start of a column definition (before DEFAULT, COMMENT, CODEC...)."""
    match = re.match(r"\w+", text)
    assert match, text
    end = match.end()
    if text[end : end + 1] == "(":
        end = _closing(text, end) + 1
    return text[:end]


def _closing(text: str, opening: int) -> int:
    depth = 0
    for i in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise AssertionError(f"unbalanced parentheses in {text!r}")


def _split(text: str) -> list[str]:
    """Top-level comma-separated parts (commas inside a type's parentheses stay)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _type_args(column_type: str) -> tuple[str, list[str]]:
    """`Map(LowCardinality(String), Float64)` -> ("Map", ["LowCardinality(String)", "Float64"])."""
    name, _, rest = column_type.partition("(")
    return name, _split(rest[:-1]) if rest else []


# --- the probes --------------------------------------------------------------------------


@cache
def baseline(record_type: type[Record]) -> dict[str, Any]:
    """Values the model accepts, which each probe changes one field of (the same on every run)."""
    return find(
        record_values(record_type),
        lambda v: _accepts(record_type, v),
        settings=settings(
            database=None, derandomize=True, max_examples=200, phases=[Phase.generate]
        ),
    )


def _accepts(record_type: type[Record], values: dict[str, Any]) -> bool:
    try:
        record_type.model_validate(values)
    except ValidationError:
        return False
    return True


def _as_expected(record_type: type[Record], values: dict[str, Any], ok: bool | None) -> bool:
    if ok is not None:
        return _accepts(record_type, values) == ok
    try:
        return not _holds_nul(record_type.model_validate(values).row())
    except ValidationError:
        return True


def _holds_nul(value: Any) -> bool:
    """Whether a NUL reached the row: a validator may drop it (plates keep letters only)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def cases(column_type: str, annotation: Any, metadata: list[Any], sample: Any) -> list[Case]:
    """Values of a field stored in `column_type`: its extremes and the first beyond them."""
    inner, nullable = unwrap(annotation)
    kind, args = _type_args(column_type)
    if kind == "Nullable":
        return [(None, True), *cases(args[0], inner, metadata, sample)]
    if kind == "LowCardinality":
        _within_ceiling(inner, metadata, MAX_TEXT["LowCardinality"])
        return cases(args[0], annotation, metadata, sample)
    assert not nullable, f"the model allows null but the column is {column_type}"
    python = base_type(inner)
    bounds = constraints(inner, metadata)
    if python is bool:
        return [(True, True), (False, True)]
    if isinstance(python, type) and issubclass(python, Enum):
        return [*((member.value, True) for member in python), ("not-a-member", False)]
    if kind in INTEGER_RANGES:
        return _integer_cases(INTEGER_RANGES[kind], bounds)
    if kind in FLOAT_LIMITS:
        return _float_cases(FLOAT_LIMITS[kind], bounds)
    if kind == "DateTime64":
        return _timestamp_cases()
    if kind == "String" and get_origin(python) is list:
        return _json_list_cases(python, bounds, sample)
    if kind == "String":
        _within_ceiling(inner, metadata, MAX_TEXT["String"])
        return _text_cases(bounds)
    if kind == "Array":
        return _array_cases(args[0], python, bounds, sample)
    if kind == "Map":
        return _map_cases(args, python, bounds)
    raise AssertionError(f"no bounds rule for column type {column_type}: add one here")


def _integer_cases(column: tuple[int, int], bounds: dict[str, Any]) -> list[Case]:
    assert ("ge" in bounds or "gt" in bounds) and ("le" in bounds or "lt" in bounds), (
        "an integer field declares both bounds"
    )
    low = bounds["ge"] if "ge" in bounds else bounds["gt"] + 1
    high = bounds["le"] if "le" in bounds else bounds["lt"] - 1
    assert column[0] <= low <= high <= column[1], f"bounds {low}..{high} outgrow {column}"
    return [
        (low, True),
        (high, True),
        (low - 1, False),
        (high + 1, False),
        (column[0] - 1, False),
        (column[1] + 1, False),
        (low + 0.5, False),
    ]


def _float_cases(limit: float, bounds: dict[str, Any]) -> list[Case]:
    low = bounds.get("ge", -limit)
    high = bounds.get("le", limit)
    assert -limit <= low and high <= limit, f"bounds {low}..{high} outgrow +-{limit}"
    beyond = [(limit * 1.0000001, False), (-limit * 1.0000001, False)] if limit < 1e300 else []
    return [
        *((v, True) for v in (low, high) if not ("gt" in bounds and v == low)),
        (math.nan, False),
        (math.inf, False),
        (-math.inf, False),
        *beyond,
    ]


def _timestamp_cases() -> list[Case]:
    return [
        (DATETIME64_MIN.isoformat(), True),
        (DATETIME64_MAX.isoformat(), True),
        ((DATETIME64_MIN - ONE_MS).isoformat(), False),
        ((DATETIME64_MAX + ONE_MS).isoformat(), False),
        (datetime(1, 1, 1).isoformat() + "Z", False),
    ]


def _text_cases(bounds: dict[str, Any]) -> list[Case]:
    assert "max_length" in bounds, "a string field declares a max_length"
    longest = bounds["max_length"]
    return [("a" * longest, True), ("a" * (longest + 1), False), ("ab\x00cd", None)]


def _within_ceiling(annotation: Any, metadata: list[Any], ceiling: int) -> None:
    longest = constraints(annotation, metadata).get("max_length")
    assert longest is None or longest <= ceiling, f"max_length {longest} above {ceiling}"


def _array_cases(item_column: str, python: Any, bounds: dict[str, Any], sample: Any) -> list[Case]:
    if isinstance(python, type) and issubclass(python, Record):
        return _stored_record_cases(item_column, python, sample)
    assert get_origin(python) is list, f"{python} stored in an Array"
    assert "max_length" in bounds, "a list field declares a max_length"
    (item,) = get_args(python)
    item_cases = cases(item_column, item, [], _first(sample))
    item_type = base_type(unwrap(item)[0])
    if isinstance(item_type, type) and issubclass(item_type, Record):
        valid = _first(sample) or baseline(item_type)
    else:
        valid = next(v for v, ok in item_cases if ok)
    copies = max(len(sample), 1)
    return [
        ([valid] * bounds["max_length"], True),
        ([valid] * (bounds["max_length"] + 1), False),
        *(([v] * copies, ok) for v, ok in item_cases),
    ]


def _stored_record_cases(column: str, record_type: type[Record], sample: Any) -> list[Case]:
    """A nested record flattened into an array column: each of its fields is an item."""
    sample = sample or baseline(record_type)
    found: list[Case] = []
    for name, info in record_type.model_fields.items():
        for value, ok in cases(column, info.annotation, info.metadata, sample[name]):
            found.append(({**sample, name: value}, ok))
    return found


def _json_list_cases(python: Any, bounds: dict[str, Any], sample: Any) -> list[Case]:
    """A list of records stored as a JSON document: its length and each field are bounded."""
    assert "max_length" in bounds, "a list field declares a max_length"
    (item,) = get_args(python)
    element = _first(sample) or baseline(item)
    found = [
        ([element] * bounds["max_length"], True),
        ([element] * (bounds["max_length"] + 1), False),
    ]
    for name, info in item.model_fields.items():
        column = _json_column(base_type(unwrap(info.annotation)[0]))
        for value, ok in cases(column, info.annotation, info.metadata, element[name]):
            found.append(([{**element, name: value}], ok))
    return found


def _json_column(python: Any) -> str:
    return {datetime: "DateTime64(3, 'UTC')", float: "Float64", int: "Int64"}.get(python, "String")


def _map_cases(args: list[str], python: Any, bounds: dict[str, Any]) -> list[Case]:
    assert "max_length" in bounds, "a dict field declares a max_length"
    key, value = get_args(python)
    key_cases = cases(args[0], key, [], None)
    value_cases = cases(args[1], value, [], None)
    valid_key = next(k for k, ok in key_cases if ok)
    valid_value = next(v for v, ok in value_cases if ok)
    many = {f"k{i}": valid_value for i in range(bounds["max_length"] + 1)}
    return [
        (many, False),
        *(({k: valid_value}, ok) for k, ok in key_cases),
        *(({valid_key: v}, ok) for v, ok in value_cases),
    ]


def _first(sample: Any) -> Any:
    return sample[0] if sample else None


# --- the tests ---------------------------------------------------------------------------


def _fields() -> list[Any]:
    found = []
    for topic in STORED:
        for name in topic.record.model_fields:  # type: ignore[union-attr]
            found.append(pytest.param(topic, name, id=f"{topic.table}.{name}"))
    return found


@pytest.mark.parametrize("topic", STORED, ids=lambda t: t.table)
def test_each_field_has_its_column_and_each_column_its_field(topic: Any) -> None:
    columns = set(table_columns()[topic.table])
    row = set(topic.record.model_validate(baseline(topic.record)).row())
    assert row - columns == set(), "fields without a column"
    assert columns - SINK_COLUMNS - row == set(), "columns no field fills"


@pytest.mark.parametrize(("topic", "name"), _fields())
def test_field_refuses_what_its_column_cannot_hold(topic: Any, name: str) -> None:
    record_type = topic.record
    info = record_type.model_fields[name]
    base = baseline(record_type)
    column = table_columns()[topic.table][name]
    wrong = [
        (value, ok)
        for value, ok in cases(column, info.annotation, info.metadata, base[name])
        if not _as_expected(record_type, {**base, name: value}, ok)
    ]
    assert wrong == [], f"{record_type.__name__}.{name} ({column}): (value, should accept)"


RAW = "<the value under test>"
POISON_PASSAGE = {
    "schema_version": 1,
    "event_id": "gate-7-000123",
    "community_id": "c01",
    "occurred_at": "2026-11-24T08:00:00.000Z",
    "received_at": "2026-11-24T08:00:00.120Z",
    "plate": "沪A12345",
    "plate_colour": "blue",
    "direction": "in",
    "gate_id": "c01-gate-n",
    "camera_id": "c01-cam-n1",
    "confidence": 0.97,
}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("schema_version", 70000, "schema_version: Input should be less than or equal to 65535"),
        ("occurred_at", "2300-01-01T00:00:00Z", "occurred_at: Value error, timestamp"),
        ("schema_version", -1, "schema_version: Input should be greater than or equal to 0"),
        ("occurred_at", "1899-12-31T23:59:59.999Z", "occurred_at: Value error, timestamp"),
        ("gate_id", "g" * 129, "gate_id: String should have at most 128 characters"),
        ("snapshot_ref", "a\u0000b", "snapshot_ref: Value error, text must not contain NUL"),
    ],
)
def test_a_passage_its_table_cannot_hold_is_refused_with_a_reason(
    field: str, value: Any, reason: str
) -> None:
    """The poison of issue 15 (valid JSON, every field present, schema_version 70000 into a
    UInt16) and its kin: the intake refuses them, naming the field, so they are dead-lettered."""
    raw = orjson.dumps({**POISON_PASSAGE, field: RAW})
    raw = raw.replace(orjson.dumps(RAW), orjson.dumps(value))
    with pytest.raises(DecodeError, match=re.escape(reason)):
        decode(raw, VEHICLE_PASSAGES.record)
