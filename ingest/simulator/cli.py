"""`simulate`: publish the simulated district to Kafka until a duration or Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path

import click
from aiokafka.errors import KafkaError

from ingest.simulator.clock import SimClock
from ingest.simulator.district import District
from ingest.simulator.everyday import HEARTBEAT_S
from ingest.simulator.simulation import SimulationReport, Simulator
from pingan.platform.district import load_communities
from pingan.platform.district_time import DistrictTime
from pingan.platform.provision import create_topics
from pingan.platform.publisher import Publisher
from pingan.platform.settings import get_settings


@click.command("simulate")
@click.option(
    "--communities",
    type=click.IntRange(1, len(load_communities())),
    default=len(load_communities()),
    show_default=True,
    help="Simulate the first N communities of the reference list.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=200.0,
    show_default=True,
    help="Events per second, device heartbeats included.",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds to run; default until Ctrl-C.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Event time per wall second. Fence alarms, camera analytics and SOS presses happen "
    "a few times per community per day of event time, so X times as often per wall second.",
)
@click.option(
    "--start",
    type=DistrictTime(),
    default=None,
    help="Event time at the start (ISO 8601; local time if no offset).",
)
@click.option(
    "--incident-every",
    type=click.FloatRange(min=0, min_open=True),
    default=15.0,
    show_default=True,
    help="Wall seconds between watchlist incidents.",
)
@click.option(
    "--heartbeat",
    "heartbeat_s",
    type=click.FloatRange(min=1),
    default=HEARTBEAT_S,
    show_default=True,
    help="Event-time seconds between two telemetry reports of one device.",
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append incident labels here as JSON lines.",
)
@click.option(
    "--malformed-every",
    type=click.IntRange(min=1),
    default=None,
    help="Also send a broken message every N events.",
)
def simulate(
    communities: int,
    rate: float,
    seed: int,
    duration: float | None,
    speed: float,
    start: datetime | None,
    incident_every: float,
    heartbeat_s: float,
    labels: Path | None,
    malformed_every: int | None,
) -> None:
    """Publish a seeded district's events with labelled watchlist incidents."""
    try:
        clock = SimClock.plan(speed=speed, start=start, duration=duration)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _warn_if_ahead(clock, duration)
    simulator = Simulator(
        District.build(seed, load_communities()[:communities]),
        clock,
        incident_every=incident_every,
        malformed_every=malformed_every,
        labels_path=labels,
        heartbeat_s=heartbeat_s,
    )
    _warn_if_heartbeats_exceed(simulator, rate)
    bootstrap = get_settings().bootstrap
    try:
        report = asyncio.run(_publish(bootstrap, simulator, rate, duration))
    except KafkaError as exc:
        raise click.ClickException(f"Kafka at {bootstrap} failed: {exc}") from None
    click.echo(report.render())


def _warn_if_ahead(clock: SimClock, duration: float | None) -> None:
    """The worker dead-letters events stamped in the future: say so before it happens."""
    overtakes = clock.overtakes_real_time_after(datetime.now(UTC))
    if overtakes is not None and (duration is None or overtakes < duration):
        click.echo(
            f"warning: event time runs ahead of real time after {overtakes:.0f} s; "
            "the worker dead-letters events more than a few minutes in the future",
            err=True,
        )


def _warn_if_heartbeats_exceed(simulator: Simulator, rate: float) -> None:
    """Heartbeats are never skipped (a skipped one is an outage), so they can crowd out
    everything else; say so rather than quietly send only telemetry."""
    heartbeats = simulator.heartbeats_per_second
    if heartbeats > rate:
        click.echo(
            f"warning: device heartbeats alone need {heartbeats:.0f} events/s, above the "
            f"rate of {rate:.0f}/s: raise --rate or --heartbeat, or lower --speed",
            err=True,
        )


async def _publish(
    bootstrap: str, simulator: Simulator, rate: float, duration: float | None
) -> SimulationReport:
    """Ctrl-C or SIGTERM stops the run cleanly, so the summary still counts what was sent."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await create_topics(bootstrap)
    async with Publisher(bootstrap) as publisher:
        return await simulator.run(publisher, rate=rate, duration=duration, stop_event=stop)


if __name__ == "__main__":
    simulate()
