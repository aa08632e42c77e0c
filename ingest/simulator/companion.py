"""The simulator as a companion task of `pingan run`, in the worker's own event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ingest.simulator.clock import SimClock
from ingest.simulator.district import District
from ingest.simulator.incidents import OFFICER_INCIDENTS
from ingest.simulator.simulation import Simulator
from pingan.platform.district import load_communities
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings

log = logging.getLogger(__name__)

LABELS_FILE = "simulator-labels.jsonl"
INCIDENT_EVERY_S = 30.0
"""One labelled incident every 30 s district-wide, of OFFICER_INCIDENTS in turn, the first
after a second: a subscriber sees alerts within a minute, and two a minute is a pace one
officer at the console can work. Everyday occasions add about one alert every few minutes."""


def simulator_companion(
    settings: Settings, *, communities: int, rate: float, seed: int
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Real-time simulation until the worker sets the stop event; labels go to the data dir."""

    async def companion(stop: asyncio.Event) -> None:
        simulator = Simulator(
            District.build(seed, load_communities()[:communities]),
            SimClock.plan(),
            incident_every=INCIDENT_EVERY_S,
            incident_kinds=OFFICER_INCIDENTS,
            labels_path=settings.data_dir / LABELS_FILE,
        )
        if simulator.heartbeats_per_second > rate:
            log.warning(
                "device heartbeats alone need %.0f events/s, above the simulator's rate of "
                "%.0f/s: only telemetry will be sent",
                simulator.heartbeats_per_second,
                rate,
            )
        async with Publisher(settings.bootstrap) as publisher:
            report = await simulator.run(publisher, rate=rate, stop_event=stop)
        log.info("simulator stopped\n%s", report.render())

    return companion
