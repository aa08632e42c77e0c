"""Simulated field devices on a real pymodbus TCP server, laid out by the register maps.

For tests, benchmarks and demos: each `SimulatedDevice` holds one unit's memory exactly
where its map says (encoded with the map's types, orders and scale) and nothing else, so
reads beyond the map get ILLEGAL ADDRESS like a real controller. Values are set by name
(`device.set("temperature_c", 71.5, channel=3)`) while the server runs; coil writes from
clients land in the same memory. `fail_with` makes the unit answer every request with a
Modbus exception. A `SimulatedSite` serves several units on one host:port (a gateway) and
can be stopped and started again with its memory intact.

`python -m ingest.modbus.simulated --devices devices.yaml` serves every device of a
devices file whose host is local, on its port and unit.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ingest.modbus import codec
from ingest.modbus.devices import ModbusDevice, load_devices
from ingest.modbus.register_map import Point, RegisterMap, Table

FUNCTION_TABLE = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE_INPUT,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    22: Table.HOLDING,
    23: Table.HOLDING,
    4: Table.INPUT,
}
UNUSED_AT = 65520
"""pymodbus needs every table to hold something: unused tables get one bit or an invalid
register up here, so reads where the map has nothing still fail."""
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SimulatedDevice:
    def __init__(self, register_map: RegisterMap, channel_count: int | None = None) -> None:
        channels = register_map.channels
        count = channel_count if channel_count is not None else (channels.count if channels else 0)
        self.register_map = register_map
        self._points = {(p.name, p.channel): p for p in register_map.points(count)}
        self.memory: dict[Table, dict[int, int]] = {table: {} for table in Table}
        for point in self._points.values():
            for address in range(point.address, point.address + point.register.kind.width):
                self.memory[point.register.table][address] = 0
        self._dirty: dict[Table, set[int]] = defaultdict(set)
        self.fail_with: ExcCodes | None = None
        self.requests = 0

    def set(self, name: str, value: float, channel: int | None = None) -> None:
        point = self._point(name, channel)
        table = point.register.table
        words = [int(value >= 0.5)] if table.bits else codec.encode(value, point.register)
        for address, word in enumerate(words, start=point.address):
            self.memory[table][address] = word
            self._dirty[table].add(address)

    def get(self, name: str, channel: int | None = None) -> float:
        point = self._point(name, channel)
        table = point.register.table
        width = point.register.kind.width
        words = [self.memory[table][a] for a in range(point.address, point.address + width)]
        return float(words[0]) if table.bits else codec.decode(words, point.register)

    def _point(self, name: str, channel: int | None) -> Point:
        try:
            return self._points[(name, channel)]
        except KeyError:
            raise KeyError(f"{self.register_map.model} has no {name} for {channel}") from None

    def sim_device(self, unit: int) -> SimDevice:
        """A fresh pymodbus device over the current memory (a restarted server keeps it)."""
        self._dirty.clear()
        blocks = tuple(self._blocks(table) for table in Table)
        return SimDevice(unit, simdata=blocks, action=self._action)

    def _blocks(self, table: Table) -> list[SimData]:
        memory = self.memory[table]
        runs: list[list[int]] = []
        for address in sorted(memory):
            if runs and address == runs[-1][-1] + 1:
                runs[-1].append(address)
            else:
                runs.append([address])
        if table.bits:
            blocks = [
                SimData(run[0], values=[bool(memory[a]) for a in run], datatype=DataType.BITS)
                for run in runs
            ]
            return blocks or [SimData(UNUSED_AT, values=[False], datatype=DataType.BITS)]
        blocks = [
            SimData(run[0], values=[memory[a] for a in run], datatype=DataType.REGISTERS)
            for run in runs
        ]
        return blocks or [SimData(UNUSED_AT, datatype=DataType.INVALID)]

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: Sequence[int] | Sequence[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this on every valid request: sync memory and the server's copy."""
        self.requests += 1
        if self.fail_with is not None:
            return self.fail_with
        table = FUNCTION_TABLE[function_code]
        if set_values is not None:
            for offset, value in enumerate(set_values):
                self.memory[table][address + offset] = int(value)
                self._dirty[table].discard(address + offset)
        dirty = self._dirty.pop(table, set())
        for changed in dirty:
            value = self.memory[table][changed]
            if table.bits:
                index, bit = changed // 16 - start_address, changed % 16
                registers[index] = (
                    registers[index] | (1 << bit) if value else registers[index] & ~(1 << bit)
                )
            else:
                registers[changed - start_address] = value
        return None


class SimulatedSite:
    """One pymodbus TCP server (a gateway) with simulated devices behind unit ids."""

    def __init__(self, devices: dict[int, SimulatedDevice], host: str = "127.0.0.1", port: int = 0):
        self.devices = devices
        self.host = host
        self._port = port
        self._server: ModbusTcpServer | None = None

    @property
    def port(self) -> int:
        """The bound port (the one asked for, or the one the OS chose for port 0)."""
        if self._server is not None and self._server.transport is not None:
            return self._server.transport.sockets[0].getsockname()[1]
        return self._port

    async def start(self) -> None:
        context = [device.sim_device(unit) for unit, device in sorted(self.devices.items())]
        self._server = ModbusTcpServer(context, address=(self.host, self._port))
        await self._server.serve_forever(background=True)
        self._port = self.port

    async def stop(self) -> None:
        """Close the listener and every client connection, as a power cut would."""
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def __aenter__(self) -> SimulatedSite:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def sites_for(devices: Sequence[ModbusDevice]) -> list[SimulatedSite]:
    """Simulated sites serving every device of a devices file on its own port and unit."""
    by_link: dict[tuple[str, int], dict[int, SimulatedDevice]] = defaultdict(dict)
    for device in devices:
        host, port = device.config.link
        if host not in LOCAL_HOSTS:
            raise ValueError(f"{device}: only local hosts can be simulated, not {host}")
        simulated = SimulatedDevice(device.register_map, len(device.channel_ids))
        by_link[(host, port)][device.config.unit] = simulated
    return [SimulatedSite(units, host, port) for (host, port), units in by_link.items()]


async def serve(devices_file: Path) -> None:
    sites = sites_for(load_devices(devices_file))
    for site in sites:
        await site.start()
    print(f"serving {sum(len(s.devices) for s in sites)} simulated devices on {len(sites)} ports")
    try:
        await asyncio.Event().wait()
    finally:
        for site in sites:
            await site.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=Path, required=True)
    asyncio.run(serve(parser.parse_args().devices))
