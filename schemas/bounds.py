"""Field types bounded by the ClickHouse column that stores them.

A value the model accepts must also fit its column: otherwise the sink's insert fails for
the whole batch, long after the device was told the event was accepted. So each stored
field takes its bounds from here, and tests/unit/test_column_bounds.py checks every field
against the column type in schemas/clickhouse/ (a new field cannot drift).

Strings have no length limit in ClickHouse, but every one here gets one, chosen for what
the field holds, so a single message cannot carry megabytes into a row, a rule's state
or an alert. NUL and unpaired surrogates are refused: they are not text a device or an
officer means, and an unpaired surrogate cannot even be encoded as UTF-8 for the insert.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

FLOAT32_MAX = 3.4028234663852886e38

UInt8 = Annotated[int, Field(ge=0, le=2**8 - 1)]
UInt16 = Annotated[int, Field(ge=0, le=2**16 - 1)]
UInt32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
UInt64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
Int16 = Annotated[int, Field(ge=-(2**15), le=2**15 - 1)]

Float32 = Annotated[float, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX, allow_inf_nan=False)]
"""A finite number that a Float32 column holds without turning it into infinity."""
Float64 = Annotated[float, Field(allow_inf_nan=False)]
"""A finite number: NaN and infinity say a sensor failed, not what it measured."""
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
"""Confidences, qualities, battery levels: 0 to 1."""

DATETIME64_MIN = datetime(1900, 1, 1, tzinfo=UTC)
DATETIME64_MAX = datetime(2299, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


def _utc_ms(value: datetime) -> datetime:
    """Normalise to aware UTC at millisecond precision, the resolution ClickHouse stores."""
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (e.g. 2026-11-24T08:00:00.000Z)")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"timestamp {value.isoformat()} is outside the calendar once converted to UTC"
        ) from None
    value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    if not DATETIME64_MIN <= value <= DATETIME64_MAX:
        raise ValueError(
            f"timestamp {value.isoformat()} is outside what is stored "
            f"({DATETIME64_MIN.isoformat()} to {DATETIME64_MAX.isoformat()})"
        )
    return value


Timestamp = Annotated[datetime, AfterValidator(_utc_ms)]
"""A DateTime64(3, 'UTC') column: aware, millisecond precision, years 1900 to 2299."""


def _storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no unpaired surrogates)") from None
    return value


Id = Annotated[
    str,
    Field(min_length=1, max_length=128, description="an identifier, 1 to 128 characters"),
    AfterValidator(_storable_text),
]
OptionalId = Annotated[
    str,
    Field(max_length=128, description="an identifier, at most 128 characters"),
    AfterValidator(_storable_text),
]
Name = Annotated[
    str,
    Field(max_length=200, description="a name or label, at most 200 characters"),
    AfterValidator(_storable_text),
]
Ref = Annotated[
    str,
    Field(max_length=512, description="a reference to a stored file, at most 512 characters"),
    AfterValidator(_storable_text),
]
Note = Annotated[
    str,
    Field(max_length=2000, description="free text by a person, at most 2000 characters"),
    AfterValidator(_storable_text),
]
Explanation = Annotated[
    str,
    Field(max_length=8000, description="text a rule writes, at most 8000 characters"),
    AfterValidator(_storable_text),
]
JSON_TEXT_MAX_LENGTH = 8 * 2**20
JsonText = Annotated[
    str,
    Field(
        max_length=JSON_TEXT_MAX_LENGTH,
        description="a JSON document, at most 8 Mi characters (an audited SQL query's text, "
        "JSON-escaped, fits whole; Kafka's message limit is the tighter one)",
    ),
    AfterValidator(_storable_text),
]
