"""One TCP connection per host:port, shared by every unit id behind it (a gateway's devices).

pymodbus runs one request at a time per connection, so devices on one link queue up;
devices on different links poll in parallel. A link that cannot connect backs off
exponentially (`backoff_min` doubling up to `backoff_max`); while it waits, requests fail
at once with `PollError("unreachable")` instead of each one timing out.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from ingest.modbus.register_map import Table

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


class PollError(Exception):
    """A request that produced no usable data; `kind` is how it failed.

    unreachable: no connection; timeout: no answer; exception: the device answered with a
    Modbus exception (`code`); malformed: an answer of the wrong size.
    """

    def __init__(self, kind: str, detail: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.code = code


class Link:
    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        backoff_min: float,
        backoff_max: float,
    ) -> None:
        self.host, self.port = host, port
        self._client = AsyncModbusTcpClient(
            host, port=port, timeout=timeout, retries=0, reconnect_delay=0
        )
        self._backoff_min, self._backoff_max = backoff_min, backoff_max
        self._delay = backoff_min
        self._retry_at = 0.0
        self._connecting = asyncio.Lock()
        self.connects = 0
        self.failed_connects = 0

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._client.connected

    async def ready(self) -> bool:
        """Connected, or connecting now if the backoff allows; False while backing off."""
        if self._client.connected:
            return True
        async with self._connecting:
            if self._client.connected:
                return True
            now = time.monotonic()
            if now < self._retry_at:
                return False
            if await self._client.connect():
                if self.failed_connects:
                    log.info("modbus link %s connected again", self)
                self.connects += 1
                self._delay = self._backoff_min
                return True
            self.failed_connects += 1
            self._retry_at = now + self._delay * random.uniform(0.8, 1.2)
            log.warning("modbus link %s: cannot connect, next try in %.1fs", self, self._delay)
            self._delay = min(self._delay * 2, self._backoff_max)
            return False

    async def read(
        self, table: Table, address: int, count: int, unit: int
    ) -> Sequence[int] | Sequence[bool]:
        client = self._client
        method = {
            Table.COIL: client.read_coils,
            Table.DISCRETE_INPUT: client.read_discrete_inputs,
            Table.HOLDING: client.read_holding_registers,
            Table.INPUT: client.read_input_registers,
        }[table]
        what = f"{table} {address}-{address + count - 1} of unit {unit} at {self}"
        response = await self._request(partial(method, address, count=count, device_id=unit), what)
        data = response.bits[:count] if table.bits else response.registers
        if len(data) != count:
            raise PollError("malformed", f"{what}: asked for {count}, got {len(data)}")
        return data

    async def write_coil(self, address: int, value: bool, unit: int) -> None:
        what = f"write coil {address}={int(value)} to unit {unit} at {self}"
        await self._request(partial(self._client.write_coil, address, value, device_id=unit), what)

    async def write_register(self, address: int, words: Sequence[int], unit: int) -> None:
        what = f"write holding {address}+{len(words)} to unit {unit} at {self}"
        write = partial(self._client.write_registers, address, list(words), device_id=unit)
        await self._request(write, what)

    async def _request(self, call: Callable[[], Awaitable[ModbusPDU]], what: str) -> ModbusPDU:
        """Make a client call, turning every failure into a `PollError`."""
        if not await self.ready():
            raise PollError("unreachable", f"{what}: not connected (backing off)")
        try:
            response = await call()
        except ConnectionException as exc:
            raise PollError("unreachable", f"{what}: {exc}") from None
        except (TimeoutError, ModbusIOException) as exc:
            raise PollError("timeout", f"{what}: no answer ({exc})") from None
        except ModbusException as exc:
            raise PollError("protocol", f"{what}: {exc}") from None
        if response.isError():
            code = getattr(response, "exception_code", 0)
            name = EXCEPTION_NAMES.get(code, "unknown exception")
            raise PollError("exception", f"{what}: exception {code} ({name})", code)
        return response

    def close(self) -> None:
        self._client.close()
