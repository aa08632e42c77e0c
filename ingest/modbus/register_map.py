"""Register maps: what a device model holds where, declared as data (one YAML file per model).

A map names every value the poller reads: its table (coil, discrete input, holding or
input register), address, type, scaling, and for 32-bit values the word and byte order.
Models with repeated sections (a shed's slots, a fence controller's zones) declare them
once as channel registers with a stride. Loading validates everything, including that no
two values overlap, and a mistake is reported with the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.commands import CommandAction
from schemas.events import DeviceKind, PerimeterAlarmKind

MAPS_DIR = Path(__file__).with_name("maps")
MetricName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class RegisterMapError(ValueError):
    """A register map that cannot be used; the message names the file and the field."""


class Table(StrEnum):
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE_INPUT)


class ValueType(StrEnum):
    BOOL = "bool"
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"

    @property
    def width(self) -> int:
        """Registers (or bits, for bool) the value occupies."""
        return 2 if self in (ValueType.UINT32, ValueType.INT32, ValueType.FLOAT32) else 1


class Order(StrEnum):
    BIG = "big"
    """Most significant first: the Modbus default."""
    LITTLE = "little"


class Register(BaseModel):
    """One value; in a channel section, `address` is channel 1's and `stride` the step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: Table
    address: Annotated[int, Field(ge=0, le=65535)]
    type: ValueType | None = None
    """Defaults to bool for coils and discrete inputs, uint16 for registers."""
    scale: float = 1.0
    offset: float = 0.0
    """Engineering value = raw × scale + offset."""
    word_order: Order = Order.BIG
    """32-bit values: which register holds the high word."""
    byte_order: Order = Order.BIG
    """Byte order inside each 16-bit register."""
    stride: Annotated[int, Field(ge=0, le=65535)] = 0
    writable: bool = False
    alarm: PerimeterAlarmKind | None = None
    """Bits only: a change into `alarm_when` is a perimeter alarm, published at once."""
    alarm_when: bool = True
    on_change: bool = False
    """Numeric values whose change is news (a card swipe): published at once, not on the
    next report. Changes of bits always are."""
    share_with_channels: bool = False
    """Device values copied into every channel's telemetry (a shed's smoke input)."""
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Register:
        kind = self.kind
        if self.table.bits and kind is not ValueType.BOOL:
            raise ValueError(f"{self.table} holds single bits: type must be bool, not {kind}")
        if not self.table.bits and kind is ValueType.BOOL:
            raise ValueError(f"{self.table} registers hold numbers: type cannot be bool")
        if self.writable and self.table not in (Table.COIL, Table.HOLDING):
            raise ValueError(f"only coils and holding registers are writable, not {self.table}")
        if self.alarm is not None and not self.table.bits:
            raise ValueError("alarm is for coils and discrete inputs")
        if kind.width == 1 and self.word_order is Order.LITTLE:
            raise ValueError(f"word_order applies to 32-bit values, not {kind}")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        return self

    @property
    def kind(self) -> ValueType:
        if self.type is not None:
            return self.type
        return ValueType.BOOL if self.table.bits else ValueType.UINT16

    def address_of(self, channel: int | None) -> int:
        """The address of this value for channel n (1-based), or of the device value."""
        return self.address if channel is None else self.address + (channel - 1) * self.stride


class Product(BaseModel):
    """A metric computed from two read ones (power = current × voltage)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    product: tuple[MetricName, MetricName]


class Action(BaseModel):
    """A command's write: set a channel's register to `value`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    write: MetricName
    value: float


class Channels(BaseModel):
    """A repeated section: `count` slots or zones with the same registers each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["slot", "zone", "channel"]
    count: Annotated[int, Field(ge=1, le=1000)]
    id_template: str
    """A channel's device or zone id; `{device_id}` and `{n}` (1-based) are filled in."""
    telemetry: Literal["per_channel", "flat"]
    """per_channel: one record per channel under its own id (shed slots); flat: metrics
    `zone3_alarm` in the device's record."""
    registers: dict[MetricName, Register]
    derived: dict[MetricName, Product] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _template(self) -> Channels:
        try:
            self.id_template.format(device_id="d", n=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"id_template {self.id_template!r}: {exc}") from None
        for name, spec in self.registers.items():
            if spec.stride == 0 and self.count > 1:
                raise ValueError(f"registers.{name}: channel registers need a stride")
        for name, derived in self.derived.items():
            for source in derived.product:
                if source not in self.registers:
                    raise ValueError(f"derived.{name}: no channel register {source!r}")
        return self


class CardReader(BaseModel):
    """A device's card reader: its registers are an access log, not telemetry. A change of
    `swiped_at` is a card access (`DoorAccess`, method card); the card number is personal
    data, so it travels only there, under the movement TTL, never in telemetry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    card: MetricName
    """Register holding the number of the last card swiped."""
    swiped_at: MetricName
    """Register whose change is a new swipe (e.g. its Unix time)."""
    also: tuple[MetricName, ...] = ()
    """Other registers of the reader, kept out of telemetry (e.g. the slot it unlocked)."""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.card, self.swiped_at, *self.also)


class RegisterMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: MetricName
    device_kind: DeviceKind
    description: str = ""
    max_read_registers: Annotated[int, Field(ge=1, le=125)] = 125
    max_read_bits: Annotated[int, Field(ge=1, le=2000)] = 2000
    read_gap: Annotated[int, Field(ge=0, le=64)] = 0
    """Unused addresses a single read may span to join two runs; 0 unless the device
    answers reads over its gaps (many reply ILLEGAL ADDRESS)."""
    registers: dict[MetricName, Register] = Field(default_factory=dict)
    channels: Channels | None = None
    actions: dict[CommandAction, Action] = Field(default_factory=dict)
    card_reader: CardReader | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RegisterMap:
        if not self.registers and self.channels is None:
            raise ValueError("a map needs registers, channels or both")
        channel_registers = self.channels.registers if self.channels else {}
        for name, spec in self.registers.items():
            if spec.stride:
                raise ValueError(f"registers.{name}: stride is for channel registers")
            if name in channel_registers:
                raise ValueError(f"registers.{name}: also a channel register")
        for action, write in self.actions.items():
            target = channel_registers.get(write.write)
            if target is None or not target.writable:
                raise ValueError(
                    f"actions.{action}: {write.write!r} is not a writable channel register"
                )
        if self.card_reader is not None:
            for name in self.card_reader.names:
                if name not in self.registers:
                    raise ValueError(f"card_reader: {name!r} is not a device register")
        self._check_overlaps()
        return self

    def _check_overlaps(self) -> None:
        taken: dict[tuple[Table, int], str] = {}
        for point in self.points(self.channels.count if self.channels else 0):
            label = point.label
            for address in range(point.address, point.address + point.register.kind.width):
                if address > 65535:
                    raise ValueError(f"{label} runs past address 65535")
                other = taken.setdefault((point.register.table, address), label)
                if other != label:
                    raise ValueError(
                        f"{label} overlaps {other} at {point.register.table} address {address}"
                    )

    def points(self, channel_count: int) -> list[Point]:
        """Every value to read for a device polling its first `channel_count` channels."""
        points = [Point(name, None, spec) for name, spec in self.registers.items()]
        if self.channels is not None:
            points += [
                Point(name, n, spec)
                for n in range(1, channel_count + 1)
                for name, spec in self.channels.registers.items()
            ]
        return points

    @cached_property
    def shared(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.registers.items() if spec.share_with_channels)


@dataclass(frozen=True)
class Point:
    """One value at one address: a device register, or a channel register of channel n."""

    name: str
    channel: int | None
    register: Register

    @property
    def address(self) -> int:
        return self.register.address_of(self.channel)

    @property
    def label(self) -> str:
        return self.name if self.channel is None else f"{self.name}[{self.channel}]"


def load_map(path: Path) -> RegisterMap:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RegisterMapError(f"{path}: cannot read register map: {exc}") from None
    if not isinstance(document, dict):
        raise RegisterMapError(f"{path}: a register map is a YAML mapping")
    try:
        register_map = RegisterMap.model_validate(document)
    except ValidationError as exc:
        raise RegisterMapError(f"{path}: {explain(exc)}") from None
    if register_map.model != path.stem:
        raise RegisterMapError(f"{path}: model {register_map.model!r} must match the file name")
    return register_map


def load_maps(directory: Path = MAPS_DIR) -> dict[str, RegisterMap]:
    """Every `*.yaml` map in `directory`, by model name."""
    return {path.stem: load_map(path) for path in sorted(directory.glob("*.yaml"))}


def explain(exc: ValidationError) -> str:
    """Pydantic's errors as `field.path: message; …`."""
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "(document)"
        problems.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)
