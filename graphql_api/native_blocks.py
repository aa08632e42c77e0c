"""ClickHouse's Native format at the protocol revision a client asks for.

chDB writes Native as a revision-0 stream: each block is its column and row counts, then per
column its name, type and data. A ClickHouse server answers an HTTP client that sends
`client_protocol_version` at that revision instead (`NativeWriter`): every block is led by its
`BlockInfo`, and from revision 54454 every column's type is followed by a "has custom
serialization" byte. Grafana's ClickHouse data source (clickhouse-go v2) and clickhouse-connect
decode exactly that, so chDB's bytes would end their read mid-block.

Column data is written the same at every revision (default serialization, no sparse columns),
so the blocks are only walked to find where each column's data ends; the bytes themselves are
copied as slices. Fixed-width data is one slice of rows × width; strings need their lengths
read. Types whose layout cannot be sized here (JSON, Dynamic, Variant, AggregateFunction, …)
are refused with a ClickHouse error that tells the analyst to CAST them to String.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from graphql_api.sql_policy import ClickHouseError

BLOCK_INFO = b"\x01\x00\x02\xff\xff\xff\xff\x00"
"""`BlockInfo::write`: field 1 is_overflows = false, field 2 bucket_num = -1 (Int32), end 0."""
NO_CUSTOM_SERIALIZATION = b"\x00"
REVISION_WITH_LOW_CARDINALITY = 54405
"""Below it a server would also strip LowCardinality and DateTime time zones; not offered."""
REVISION_WITH_CUSTOM_SERIALIZATION = 54454
MAX_REVISION_DIGITS = 10

FIXED_WIDTHS: dict[str, int] = {
    **dict.fromkeys(("UInt8", "Int8", "Bool", "Enum8", "Nothing"), 1),
    **dict.fromkeys(("UInt16", "Int16", "Date", "Enum16", "BFloat16"), 2),
    **dict.fromkeys(
        ("UInt32", "Int32", "Float32", "Date32", "DateTime", "IPv4", "Decimal32", "Time"), 4
    ),
    **dict.fromkeys(("UInt64", "Int64", "Float64", "DateTime64", "Decimal64", "Time64"), 8),
    **dict.fromkeys(("UInt128", "Int128", "UUID", "IPv6", "Decimal128"), 16),
    **dict.fromkeys(("UInt256", "Int256", "Decimal256"), 32),
}
"""Bytes per row; a type's parameters (time zone, scale, enum values) do not change them."""
GEO_TYPES = {
    "Point": "Tuple(Float64, Float64)",
    "Ring": "Array(Point)",
    "LineString": "Array(Point)",
    "MultiLineString": "Array(LineString)",
    "Polygon": "Array(Ring)",
    "MultiPolygon": "Array(Polygon)",
}
INDEX_WIDTHS = (1, 2, 4, 8)
"""LowCardinality's index width by the low byte of a granule's serialization type."""
HAS_ADDITIONAL_KEYS = 1 << 9
INDEX_TYPE_MASK = 0xFF


class UnsizedType(Exception):
    """A type whose Native layout is not walked here."""


class Layout(Protocol):
    def prefix(self, data: bytes, pos: int) -> int:
        """Skip the serialization state prefix, written once per column before its data."""

    def skip(self, data: bytes, pos: int, rows: int) -> int:
        """Skip `rows` values; return the position after them."""


@dataclass(frozen=True)
class Fixed:
    width: int

    def prefix(self, data: bytes, pos: int) -> int:
        return pos

    def skip(self, data: bytes, pos: int, rows: int) -> int:
        return pos + rows * self.width


@dataclass(frozen=True)
class Strings:
    def prefix(self, data: bytes, pos: int) -> int:
        return pos

    def skip(self, data: bytes, pos: int, rows: int) -> int:
        for _ in range(rows):
            length = data[pos]
            if length < 0x80:
                pos += 1 + length
            else:
                length, pos = varint(data, pos)
                pos += length
        return pos


@dataclass(frozen=True)
class Nullable:
    inner: Layout

    def prefix(self, data: bytes, pos: int) -> int:
        return self.inner.prefix(data, pos)

    def skip(self, data: bytes, pos: int, rows: int) -> int:
        return self.inner.skip(data, pos + rows, rows)


@dataclass(frozen=True)
class Array:
    inner: Layout

    def prefix(self, data: bytes, pos: int) -> int:
        return self.inner.prefix(data, pos)

    def skip(self, data: bytes, pos: int, rows: int) -> int:
        """Offsets are cumulative UInt64s; the last one is the number of nested values."""
        end = pos + rows * 8
        nested = int.from_bytes(data[end - 8 : end], "little") if rows else 0
        return self.inner.skip(data, end, nested)


@dataclass(frozen=True)
class Tuple:
    elements: tuple[Layout, ...]

    def prefix(self, data: bytes, pos: int) -> int:
        for element in self.elements:
            pos = element.prefix(data, pos)
        return pos

    def skip(self, data: bytes, pos: int, rows: int) -> int:
        for element in self.elements:
            pos = element.skip(data, pos, rows)
        return pos


@dataclass(frozen=True)
class LowCardinality:
    """Native's LowCardinality: granules of their own keys and indexes, no global dictionary."""

    keys: Layout

    def prefix(self, data: bytes, pos: int) -> int:
        return pos + 8

    def skip(self, data: bytes, pos: int, rows: int) -> int:
        while rows > 0:
            kind = _uint64(data, pos)
            pos += 8
            if kind & HAS_ADDITIONAL_KEYS:
                pos = self.keys.skip(data, pos + 8, _uint64(data, pos))
            count = _uint64(data, pos)
            if count == 0 or kind & INDEX_TYPE_MASK >= len(INDEX_WIDTHS):
                raise ValueError("LowCardinality granule is malformed")
            pos += 8 + count * INDEX_WIDTHS[kind & INDEX_TYPE_MASK]
            rows -= count
        return pos


def at_revision(native: bytes, revision: int) -> bytes:
    """chDB's revision-0 Native stream as a server would send it to a client at `revision`."""
    if revision == 0 or not native:
        return native
    if revision < REVISION_WITH_LOW_CARDINALITY:
        raise ClickHouseError(
            48,
            "NOT_IMPLEMENTED",
            f"client_protocol_version {revision}: Native is answered here at revision 0 or "
            f"{REVISION_WITH_LOW_CARDINALITY} and later",
        )
    custom = revision >= REVISION_WITH_CUSTOM_SERIALIZATION
    view = memoryview(native)
    parts: list[bytes | memoryview] = []
    pos = 0
    while pos < len(native):
        parts.append(BLOCK_INFO)
        start = pos
        columns, pos = varint(native, pos)
        rows, pos = varint(native, pos)
        for _ in range(columns):
            name, pos = _string(native, pos)
            type_name, pos = _string(native, pos)
            if custom:
                parts += (view[start:pos], NO_CUSTOM_SERIALIZATION)
                start = pos
            if rows:
                layout = _column_layout(name, type_name, revision)
                pos = layout.skip(native, layout.prefix(native, pos), rows)
        parts.append(view[start:pos])
    if pos != len(native):
        raise ValueError("Native stream ends inside a block")
    return b"".join(parts)


def client_revision(text: str | None) -> int:
    """The `client_protocol_version` URL parameter; absent means revision 0."""
    if not text:
        return 0
    if not text.isdigit() or len(text) > MAX_REVISION_DIGITS:
        raise ClickHouseError(36, "BAD_ARGUMENTS", "client_protocol_version: a whole number")
    return int(text)


def _column_layout(name: str, type_name: str, revision: int) -> Layout:
    try:
        return layout_of(type_name)
    except UnsizedType:
        raise ClickHouseError(
            48,
            "NOT_IMPLEMENTED",
            f"column {name!r} of type {type_name} cannot be sent in Native format at "
            f"client_protocol_version {revision} by this endpoint: CAST it to String "
            "(or ask for another format)",
        ) from None


@lru_cache(maxsize=512)
def layout_of(type_name: str) -> Layout:
    """How a column of this ClickHouse type lays out its Native data."""
    name, arguments = _parts(type_name)
    if name in FIXED_WIDTHS:
        return Fixed(FIXED_WIDTHS[name])
    if name.startswith("Interval") and not arguments:
        return Fixed(8)
    if name in GEO_TYPES:
        return layout_of(GEO_TYPES[name])
    match name, arguments:
        case "String", []:
            return Strings()
        case "FixedString", [width] if width.isdigit():
            return Fixed(int(width))
        case "Decimal", [precision, *_] if precision.isdigit():
            return Fixed(_decimal_width(int(precision)))
        case "Nullable", [inner]:
            return Nullable(layout_of(inner))
        case "LowCardinality", [inner]:
            keys, key_arguments = _parts(inner)
            return LowCardinality(layout_of(key_arguments[0] if keys == "Nullable" else inner))
        case "Array", [inner]:
            return Array(layout_of(inner))
        case "Tuple", [_, *_]:
            return Tuple(tuple(layout_of(_element_type(e)) for e in arguments))
        case "Nested", [_, *_]:
            return Array(Tuple(tuple(layout_of(_element_type(e)) for e in arguments)))
        case "Map", [key, value]:
            return Array(Tuple((layout_of(key), layout_of(value))))
        case "SimpleAggregateFunction", [_, inner]:
            return layout_of(inner)
    raise UnsizedType(type_name)


def _decimal_width(precision: int) -> int:
    for width, most in ((4, 9), (8, 18), (16, 38)):
        if precision <= most:
            return width
    return 32


def _parts(type_name: str) -> tuple[str, list[str]]:
    """`Map(String, Tuple(a UInt8))` → ("Map", ["String", "Tuple(a UInt8)"])."""
    name, parenthesis, rest = type_name.strip().partition("(")
    if not parenthesis:
        return name, []
    if not rest.endswith(")"):
        raise UnsizedType(type_name)
    return name.strip(), _top_level_split(rest[:-1])


def _top_level_split(text: str) -> list[str]:
    """Commas outside parentheses, 'string literals' (enum values) and `quoted names`."""
    pieces: list[str] = []
    depth = 0
    quote = ""
    escaped = False
    start = 0
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(text[start:index].strip())
            start = index + 1
    pieces.append(text[start:].strip())
    return pieces


def _element_type(element: str) -> str:
    """A tuple element's type, without its name: `a UInt8`, `` `a b` UInt8 `` or `UInt8`."""
    if element.startswith("`"):
        end = element.index("`", 1)
        while element[end - 1] == "\\":
            end = element.index("`", end + 1)
        return element[end + 1 :].strip()
    space, parenthesis = element.find(" "), element.find("(")
    if space != -1 and (parenthesis == -1 or space < parenthesis):
        return element[space + 1 :].strip()
    return element


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 value and the position after it."""
    value = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint is longer than 64 bits")


def _string(data: bytes, pos: int) -> tuple[str, int]:
    length, pos = varint(data, pos)
    if pos + length > len(data):
        raise ValueError("Native stream ends inside a column header")
    return data[pos : pos + length].decode(errors="replace"), pos + length


def _uint64(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 8], "little")
