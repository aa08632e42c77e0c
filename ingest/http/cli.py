"""`pingan ingest http` (the webhooks alone) and `pingan ingest keys issue|revoke`.

A key is printed once, on stdout alone (`KEY=$(pingan ingest keys issue --device g1)`);
what happened goes to stderr. Both commands read the device and credential topics first,
so a key is only issued to a registered device and only a live key is revoked.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import NoReturn

import click
from aiokafka.errors import KafkaError

from ingest.http.credentials import DeviceDirectory, issue_key, revoked
from pingan.platform.device_secrets import DeviceSecretKeyError
from pingan.platform.provision import create_topics
from pingan.platform.publisher import publish_now
from pingan.platform.reference_data import ReferenceFollower
from pingan.platform.settings import get_settings
from schemas.credentials import CredentialScheme, DeviceCredential
from schemas.events import utc_now
from schemas.topics import DEVICE_CREDENTIALS, DEVICES

READ_TIMEOUT_SECONDS = 30.0


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _operator() -> str:
    return os.environ.get("USER") or "cli"


@click.command("http")
def http() -> None:
    """Serve the device webhooks on PINGAN_INGEST_HTTP_HOST:PINGAN_INGEST_HTTP_PORT."""
    from ingest.http.server import run_webhooks

    settings = get_settings()
    try:
        asyncio.run(run_webhooks(settings))
    except (KafkaError, OSError) as exc:
        _fail(f"cannot serve webhooks (Kafka at {settings.bootstrap}): {exc}", code=1)


@click.group()
def keys() -> None:
    """Webhook keys of devices: one live key per device, on a compacted topic."""


@keys.command()
@click.option("--device", "device_id", required=True, help="A device of pingan.reference.devices.")
@click.option(
    "--scheme",
    type=click.Choice([s.value for s in CredentialScheme]),
    default=CredentialScheme.BEARER.value,
    show_default=True,
    help="bearer: the device sends the key; hmac: the device signs each body with it.",
)
def issue(device_id: str, scheme: str) -> None:
    """Issue (or rotate) a device's key and print it once."""
    bootstrap = get_settings().bootstrap
    directory = _read_directory(bootstrap)
    device = directory.device(device_id)
    if device is None:
        _fail(f"device {device_id} is not registered on {DEVICES.name}")
    previous = directory.credential(device_id)
    try:
        issued = issue_key(device_id, CredentialScheme(scheme), _operator(), utc_now())
    except DeviceSecretKeyError as exc:
        _fail(str(exc))
    _publish(bootstrap, issued.credential)
    replaced = (
        f", replacing key {previous.fingerprint}" if previous and not previous.revoked else ""
    )
    click.echo(
        f"issued {scheme} key {issued.credential.fingerprint} to {device_id} "
        f"({device.device_kind.value} in {device.community_id}){replaced}; "
        "it is shown only this once",
        err=True,
    )
    click.echo(issued.key)


@keys.command()
@click.option("--device", "device_id", required=True)
def revoke(device_id: str) -> None:
    """Revoke a device's key: its requests get 401 once the ingest processes read this."""
    bootstrap = get_settings().bootstrap
    current = _read_directory(bootstrap).credential(device_id)
    if current is None or current.revoked:
        _fail(f"device {device_id} has no live key")
    _publish(bootstrap, revoked(current, _operator(), utc_now()))
    click.echo(f"revoked key {current.fingerprint} of {device_id}", err=True)


def _read_directory(bootstrap: str) -> DeviceDirectory:
    async def read() -> DeviceDirectory:
        await create_topics(bootstrap)
        directory = DeviceDirectory()
        follower = ReferenceFollower(bootstrap, directory)
        await follower.start()
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                await follower.loaded.wait()
        finally:
            await follower.stop()
        return directory

    try:
        return asyncio.run(read())
    except (KafkaError, TimeoutError) as exc:
        _fail(f"could not read devices and keys from Kafka at {bootstrap}: {exc!r}", code=1)


def _publish(bootstrap: str, credential: DeviceCredential) -> None:
    try:
        publish_now(bootstrap, credential)
    except KafkaError as exc:
        _fail(f"could not publish to {DEVICE_CREDENTIALS.name} at {bootstrap}: {exc}", code=1)
