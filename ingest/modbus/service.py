"""One poller process: the poller, its outbox and (optionally) its command executor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from ingest.modbus.commands import StopChargingExecutor
from ingest.modbus.devices import ModbusDevice
from ingest.modbus.outbox import Outbox
from ingest.modbus.poller import LinkSettings, Poller, cancel_all
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings

log = logging.getLogger(__name__)


def link_settings(settings: Settings) -> LinkSettings:
    return LinkSettings(
        timeout=settings.modbus_timeout_seconds,
        backoff_min=settings.modbus_backoff_min_seconds,
        backoff_max=settings.modbus_backoff_max_seconds,
    )


async def run_poller(
    settings: Settings,
    devices: Sequence[ModbusDevice],
    commands: bool = True,
    duration: float | None = None,
) -> Poller:
    """Poll until SIGINT/SIGTERM or `duration` seconds; flushes queued records on the way out."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Publisher(settings.bootstrap) as publisher:
        outbox = Outbox(publisher, batch_seconds=settings.modbus_batch_seconds)
        poller = Poller(
            devices, outbox, link_settings(settings), settings.modbus_offline_report_seconds
        )
        tasks = [asyncio.create_task(outbox.run()), asyncio.create_task(poller.run())]
        if commands:
            group = f"pingan-modbus-{settings.modbus_poller_id}"
            executor = StopChargingExecutor(settings.bootstrap, group, poller, publisher)
            tasks.append(asyncio.create_task(executor.run()))
        log.info("polling %d modbus devices on %d links", len(devices), len(poller.links))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        for task in reversed(tasks):
            await cancel_all([task])
        log.info(
            "modbus poller stopped: %d polls, %d failed, %d records published",
            poller.polls,
            poller.failures,
            outbox.published,
        )
        return poller
