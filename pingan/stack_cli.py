"""``pingan stack``: start, stop and inspect the local Kafka broker."""

from __future__ import annotations

import sys
from functools import partial
from typing import NoReturn

import click

from pingan.platform.settings import get_settings
from pingan.platform.stack import kafka


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@click.group()
def stack() -> None:
    """Local Apache Kafka (KRaft) broker, or the cluster named by KAFKA_BOOTSTRAP."""


@stack.command()
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for Kafka.")
def up(timeout: float) -> None:
    """Start the local broker if needed, wait until it answers, print the bootstrap."""
    try:
        # stdout is for the bootstrap alone: scripts read it.
        progress = partial(click.echo, err=True)
        click.echo(kafka.up(get_settings(), timeout=timeout, progress=progress))
    except kafka.MissingPrerequisite as exc:
        _fail(str(exc), 2)
    except (kafka.BrokerError, TimeoutError) as exc:
        _fail(f"Kafka is not available: {exc}", 1)


@stack.command()
@click.option("--timeout", default=30.0, show_default=True, help="Seconds before SIGKILL.")
def down(timeout: float) -> None:
    """Stop the local broker (no-op if it is not running)."""
    try:
        kafka.down(get_settings(), timeout=timeout)
    except kafka.MissingPrerequisite as exc:
        _fail(str(exc), 2)


@stack.command()
def status() -> None:
    """Show whether the broker runs and answers metadata requests."""
    try:
        info = kafka.status(get_settings())
    except kafka.MissingPrerequisite as exc:
        _fail(str(exc), 2)
    width = max(map(len, info))
    for key, value in info.items():
        shown = (
            "-"
            if value is None
            else ("yes" if value is True else "no" if value is False else value)
        )
        click.echo(f"{key:<{width}}  {shown}")
