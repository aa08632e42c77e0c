"""`pingan ingest modbus`: poll the Modbus devices of a devices file into Kafka."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click
from aiokafka.errors import KafkaError

from ingest.modbus.devices import DeviceConfigError, load_devices
from ingest.modbus.register_map import MAPS_DIR
from ingest.modbus.service import run_poller
from pingan.platform.settings import get_settings


@click.command()
@click.option(
    "--devices",
    "devices_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="YAML list of devices: host, port, unit, model, community, device_id, interval.",
)
@click.option(
    "--maps",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=MAPS_DIR,
    show_default=True,
    help="Directory of register maps, one YAML file per model.",
)
@click.option(
    "--commands/--no-commands",
    default=True,
    show_default=True,
    help="Stop charging on a slot when CHARGING_OVERHEAT fires for it.",
)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
def modbus(devices_file: Path, maps: Path, commands: bool, duration: float | None) -> None:
    """Poll Modbus TCP devices (charging sheds, fence controllers, detectors) into Kafka."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        devices = load_devices(devices_file, maps)
    except DeviceConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    settings = get_settings()
    try:
        asyncio.run(run_poller(settings, devices, commands, duration))
    except KafkaError as exc:
        click.echo(f"Kafka is not reachable at {settings.bootstrap}: {exc}", err=True)
        sys.exit(1)
