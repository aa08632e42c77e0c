"""Raw Modbus words ⇄ engineering values, as a register map declares them.

Modbus moves 16-bit registers; what they mean (signedness, 32-bit word order, byte order
inside a register, scale and offset) is vendor-specific, so it comes from the map.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from ingest.modbus.register_map import Order, Register, ValueType

STRUCT_FORMAT = {
    ValueType.UINT16: ">H",
    ValueType.INT16: ">h",
    ValueType.UINT32: ">I",
    ValueType.INT32: ">i",
    ValueType.FLOAT32: ">f",
}
DECIMALS = 6
"""Scaled values are rounded here so that 0.1 × 235 reads 23.5, not 23.500000000000004."""


class EncodeError(ValueError):
    """A value that cannot be encoded into its registers (out of range, not finite)."""


def decode(words: Sequence[int], register: Register) -> float:
    """The engineering value of one numeric register (or register pair); a float32 may
    decode to NaN or infinity, which callers drop."""
    raw = struct.unpack(STRUCT_FORMAT[register.kind], to_bytes(words, register))[0]
    if not math.isfinite(raw):
        return raw
    return round(raw * register.scale + register.offset, DECIMALS)


def encode(value: float, register: Register) -> list[int]:
    """The registers holding `value`: the inverse of `decode` (simulated devices, writes)."""
    raw: float | int = (value - register.offset) / register.scale
    if register.kind is not ValueType.FLOAT32:
        raw = round(raw)
    try:
        packed = struct.pack(STRUCT_FORMAT[register.kind], raw)
    except struct.error as exc:
        raise EncodeError(f"{value} does not fit a {register.kind}: {exc}") from None
    return from_bytes(packed, register)


def to_bytes(words: Sequence[int], register: Register) -> bytes:
    """Registers as the big-endian byte string of the value, undoing the device's orders."""
    ordered = list(words) if register.word_order is Order.BIG else list(reversed(words))
    data = b"".join(word.to_bytes(2, "big") for word in ordered)
    if register.byte_order is Order.LITTLE:
        data = b"".join(data[i : i + 2][::-1] for i in range(0, len(data), 2))
    return data


def from_bytes(data: bytes, register: Register) -> list[int]:
    if register.byte_order is Order.LITTLE:
        data = b"".join(data[i : i + 2][::-1] for i in range(0, len(data), 2))
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words if register.word_order is Order.BIG else list(reversed(words))
