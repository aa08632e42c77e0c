"""Word and byte order, signedness and scaling of Modbus values, against known vectors."""

import pytest
from pymodbus.client import AsyncModbusTcpClient

from ingest.modbus import codec
from ingest.modbus.register_map import Register

DATATYPE = AsyncModbusTcpClient.DATATYPE


def register(type_: str, word_order: str = "big", byte_order: str = "big", **kw) -> Register:
    return Register(
        table="input", address=0, type=type_, word_order=word_order, byte_order=byte_order, **kw
    )


@pytest.mark.parametrize(
    ("word_order", "byte_order", "words"),
    [
        ("big", "big", [0x1234, 0x5678]),  # ABCD
        ("little", "big", [0x5678, 0x1234]),  # CDAB
        ("big", "little", [0x3412, 0x7856]),  # BADC
        ("little", "little", [0x7856, 0x3412]),  # DCBA
    ],
)
def test_uint32_in_each_word_and_byte_order(word_order: str, byte_order: str, words: list[int]):
    spec = register("uint32", word_order, byte_order)
    assert codec.decode(words, spec) == 0x12345678
    assert codec.encode(0x12345678, spec) == words


@pytest.mark.parametrize("word_order", ["big", "little"])
def test_32_bit_word_order_agrees_with_pymodbus(word_order: str) -> None:
    words = [0xC2F6, 0xE979]
    for type_, datatype in (("int32", DATATYPE.INT32), ("float32", DATATYPE.FLOAT32)):
        ours = codec.decode(words, register(type_, word_order))
        theirs = AsyncModbusTcpClient.convert_from_registers(words, datatype, word_order=word_order)
        assert ours == pytest.approx(theirs, rel=1e-6)


def test_signed_16_bit_and_scale() -> None:
    temperature = register("int16", scale=0.1)
    assert codec.decode([0xFF9C], temperature) == -10.0
    assert codec.decode([0x00EB], temperature) == 23.5
    assert codec.decode([0xFF9C], register("uint16")) == 65436
    assert codec.encode(-12.5, temperature) == [0xFF83]


def test_negative_int32_low_word_first() -> None:
    spec = register("int32", word_order="little")
    assert codec.decode([0xFFFE, 0xFFFF], spec) == -2
    assert codec.encode(-2, spec) == [0xFFFE, 0xFFFF]


def test_float32_and_offset() -> None:
    spec = register("float32", word_order="little", offset=-40.0)
    assert codec.decode([0x0000, 0x3F80], spec) == -39.0
    assert codec.encode(-39.0, spec) == [0x0000, 0x3F80]


def test_scaled_values_are_rounded_to_what_the_scale_means() -> None:
    assert 3 * 0.1 != 0.3
    assert codec.decode([3], register("uint16", scale=0.1)) == 0.3
    assert codec.decode([7], register("uint16", scale=0.1)) == 0.7


def test_value_that_does_not_fit_its_registers_is_refused() -> None:
    with pytest.raises(codec.EncodeError, match="uint16"):
        codec.encode(70000, register("uint16"))
    with pytest.raises(codec.EncodeError):
        codec.encode(-1, register("uint32"))
