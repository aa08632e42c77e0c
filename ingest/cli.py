"""`pingan ingest`: the device adapters, each adding its commands to this group."""

from __future__ import annotations

import click

from ingest.http.cli import http, keys
from ingest.modbus.cli import modbus


@click.group()
def ingest() -> None:
    """Device adapters: webhooks (http, keys), Modbus pollers."""


ingest.add_command(http)
ingest.add_command(keys)
ingest.add_command(modbus)
