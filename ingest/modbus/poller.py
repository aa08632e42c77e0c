"""The Modbus poller: every configured device polled at its own interval, concurrently.

Each device runs its own loop (start times spread over its interval, so hundreds of
devices do not poll in lockstep); its reads go through the shared link of its host:port.
A poll reads the planned requests, turns values into records (`readings.py`) and hands
them to the outbox: changes and alarms at once, routine telemetry in batches (a device
waits for room in the outbox rather than outrunning Kafka). A failed
poll counts an error, marks the device offline and sends its health (`online` 0) on the
transition and then every `offline_report_seconds`; nothing a device does can stop the
poller.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ingest.modbus.devices import ModbusDevice
from ingest.modbus.link import Link, PollError
from ingest.modbus.outbox import Outbox
from ingest.modbus.read_plan import Values
from ingest.modbus.readings import Health, health_record, poll_records
from schemas.events import utc_now

log = logging.getLogger(__name__)


@dataclass
class DeviceState:
    """What the poller remembers of one device between polls."""

    values: Values | None = None
    online: bool | None = None
    errors: int = 0
    consecutive_errors: int = 0
    last_seen: datetime | None = None
    last_error: str | None = None
    next_report: float = 0.0
    next_offline_report: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    """Poll durations, kept only for benchmarks."""


@dataclass(frozen=True)
class LinkSettings:
    timeout: float = 1.0
    backoff_min: float = 0.5
    backoff_max: float = 30.0


class Poller:
    def __init__(
        self,
        devices: Sequence[ModbusDevice],
        outbox: Outbox,
        links: LinkSettings | None = None,
        offline_report_seconds: float = 30.0,
        keep_latencies: bool = False,
    ) -> None:
        settings = links or LinkSettings()
        self.devices = {d.device_id: d for d in devices}
        self.links: dict[tuple[str, int], Link] = {}
        for device in devices:
            if device.config.link not in self.links:
                self.links[device.config.link] = Link(
                    *device.config.link,
                    timeout=settings.timeout,
                    backoff_min=settings.backoff_min,
                    backoff_max=settings.backoff_max,
                )
        self.states = {d.device_id: DeviceState() for d in devices}
        self.polls = 0
        self.failures = 0
        self._outbox = outbox
        self._offline_report_seconds = offline_report_seconds
        self._keep_latencies = keep_latencies
        self._running = False
        self._slots = {
            channel_id: (device, n)
            for device in devices
            for n, channel_id in enumerate(device.channel_ids, start=1)
        }

    def link_of(self, device: ModbusDevice) -> Link:
        return self.links[device.config.link]

    def channel(self, channel_id: str) -> tuple[ModbusDevice, int] | None:
        """The device and channel number (1-based) a slot or zone id belongs to."""
        return self._slots.get(channel_id)

    async def run(self) -> None:
        """Poll every device until cancelled."""
        self._running = True
        tasks = [asyncio.create_task(self._loop(d)) for d in self.devices.values()]
        try:
            await asyncio.gather(*tasks)
        finally:
            self._running = False
            await cancel_all(tasks)
            for link in self.links.values():
                link.close()

    async def _loop(self, device: ModbusDevice) -> None:
        loop = asyncio.get_running_loop()
        interval = device.config.interval
        phase = zlib.crc32(device.device_id.encode()) % 1000 / 1000 * interval
        next_at = loop.time() + phase
        while self._running:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            await self._outbox.room()
            await self.poll(device)
            next_at += interval
            if next_at < loop.time():
                next_at = loop.time() + interval * 0.5

    async def poll(self, device: ModbusDevice) -> None:
        """Read the device once and hand its records to the outbox; never raises."""
        state = self.states[device.device_id]
        started = time.perf_counter()
        self.polls += 1
        try:
            values = await self.read(device)
        except PollError as exc:
            self._failed(device, state, exc)
            return
        except Exception:
            log.exception("modbus poll of %s failed unexpectedly", device)
            self._failed(device, state, PollError("bug", "unexpected error (see log)"))
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        try:
            self._succeeded(device, state, values, elapsed_ms)
        except Exception:
            log.exception("modbus values of %s could not become records", device)

    async def read(self, device: ModbusDevice) -> Values:
        link = self.link_of(device)
        values: Values = {}
        for read in device.reads:
            data = await link.read(read.table, read.address, read.count, device.config.unit)
            values |= read.values(data)
        return values

    def _succeeded(
        self, device: ModbusDevice, state: DeviceState, values: Values, elapsed_ms: float
    ) -> None:
        now = time.monotonic()
        at = utc_now()
        back = state.online is not True
        if state.online is False:
            log.info("modbus device %s is back after %d errors", device, state.consecutive_errors)
        report = back or now >= state.next_report
        health = Health(
            online=True,
            errors=state.errors,
            consecutive_errors=0,
            last_seen=at,
            poll_ms=elapsed_ms,
        )
        records = poll_records(device, values, state.values, at, health, report)
        self._outbox.urgent(records.urgent)
        self._outbox.add(records.routine)
        if report:
            state.next_report = now + (device.config.report_every or device.config.interval) - 0.01
        state.values, state.online, state.last_seen = values, True, at
        state.consecutive_errors, state.last_error = 0, None
        if self._keep_latencies:
            state.latencies_ms.append(elapsed_ms)

    def _failed(self, device: ModbusDevice, state: DeviceState, error: PollError) -> None:
        self.failures += 1
        state.errors += 1
        state.consecutive_errors += 1
        detail = str(error)
        if state.online is not False or detail != state.last_error:
            log.warning("modbus device %s: %s", device, detail)
        went_offline = state.online is not False
        state.online, state.last_error = False, detail
        now = time.monotonic()
        if not went_offline and now < state.next_offline_report:
            return
        state.next_offline_report = now + self._offline_report_seconds
        health = Health(
            online=False,
            errors=state.errors,
            consecutive_errors=state.consecutive_errors,
            last_seen=state.last_seen,
            exception_code=error.code,
        )
        self._outbox.urgent([health_record(device, utc_now(), health)])


async def cancel_all(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel until done: asyncio.wait_for inside pymodbus can swallow one cancellation (a
    response arriving as the task is cancelled), so a single cancel() may not stop a loop."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
