"""Read planning: a device's values become as few Modbus requests as its map allows.

Values are grouped by table and sorted by address; neighbours join one request while the
span stays within the device's per-request limit, and across at most `read_gap` unused
addresses, or across addresses the model defines but this device does not poll (a shed
with 8 of 16 slots populated still has every slot's registers). A 16-slot shed is then
three requests (coils, smoke input, registers), not 97.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.modbus import codec
from ingest.modbus.register_map import Point, RegisterMap, Table

Values = dict[tuple[str, int | None], float]
"""Engineering values of one poll by (name, channel); channel None for device values."""


@dataclass(frozen=True)
class Read:
    """One request: `count` registers (or bits) of `table` from `address`."""

    table: Table
    address: int
    count: int
    points: tuple[Point, ...]

    def describe(self) -> str:
        last = self.address + self.count - 1
        return f"{self.table} {self.address}-{last}"

    def values(self, data: Sequence[int] | Sequence[bool]) -> Values:
        """The engineering values of this read's points; non-finite floats are left out."""
        values: Values = {}
        for point in self.points:
            start = point.address - self.address
            if self.table.bits:
                value = 1.0 if data[start] else 0.0
            else:
                value = codec.decode(
                    data[start : start + point.register.kind.width], point.register
                )
                if not math.isfinite(value):
                    continue
            values[(point.name, point.channel)] = value
        return values


def plan_reads(register_map: RegisterMap, channel_count: int) -> tuple[Read, ...]:
    every_channel = register_map.channels.count if register_map.channels else 0
    reads: list[Read] = []
    for table in Table:
        points = sorted(
            (p for p in register_map.points(channel_count) if p.register.table is table),
            key=lambda p: p.address,
        )
        defined = {
            address
            for p in register_map.points(every_channel)
            if p.register.table is table
            for address in range(p.address, p.address + p.register.kind.width)
        }
        limit = register_map.max_read_bits if table.bits else register_map.max_read_registers
        reads += _merge(table, points, limit, register_map.read_gap, defined)
    return tuple(reads)


def _merge(
    table: Table, points: list[Point], limit: int, gap: int, defined: set[int]
) -> list[Read]:
    reads: list[Read] = []
    group: list[Point] = []
    start = end = 0
    for point in points:
        point_end = point.address + point.register.kind.width
        bridgeable = point.address <= end + gap or defined.issuperset(range(end, point.address))
        if group and bridgeable and point_end - start <= limit:
            group.append(point)
            end = max(end, point_end)
            continue
        if group:
            reads.append(Read(table, start, end - start, tuple(group)))
        group, start, end = [point], point.address, point_end
    if group:
        reads.append(Read(table, start, end - start, tuple(group)))
    return reads
