"""Device signing secrets on a real credentials topic: sealed there, opened by the webhooks.

What a Kafka reader gets is the raw record bytes; none of them may spell the secret. The
webhook given the same key still authenticates the device's signed posts, and one given
another key refuses with a message that says so, instead of letting anyone in.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr

from ingest.http.auth import DEVICE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from ingest.http.credentials import IssuedKey, issue_key
from ingest.http.server import serve_webhooks
from pingan.platform.device_secrets import DeviceSecretBox
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from schemas.credentials import CredentialScheme
from schemas.events import DeviceKind, utc_now
from schemas.reference import Device
from schemas.topics import DEVICE_CREDENTIALS

pytestmark = pytest.mark.integration

LOAD_TIMEOUT_SECONDS = 30.0
DOOR = Device(device_id="sealed-door-1", community_id="c01", device_kind=DeviceKind.DOOR)


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def device_key() -> str:
    return new_key()


@pytest.fixture(scope="module")
async def issued(kafka_bootstrap: str, device_key: str) -> IssuedKey:
    """The door and its signing key on the topics, as `pingan ingest keys issue` leaves them."""
    box = DeviceSecretBox.from_settings(Settings(device_secret_key=SecretStr(device_key)))
    issued = issue_key(DOOR.device_id, CredentialScheme.HMAC, "test", utc_now(), box)
    async with Publisher(kafka_bootstrap) as publisher:
        await publisher.publish_many([DOOR, issued.credential])
    return issued


async def raw_credentials(bootstrap: str) -> list[bytes]:
    """Every credentials record as stored, read by a plain consumer with no Pingan decoding."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(DEVICE_CREDENTIALS.name, p) for p in range(DEVICE_CREDENTIALS.partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            for batch in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                values += [m.value for m in batch if m.value is not None]
        return values
    finally:
        await consumer.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def post_signed(http: httpx.AsyncClient, url: str, secret: str) -> httpx.Response:
    body = orjson.dumps(
        {
            "event_id": f"d-{uuid.uuid4().hex}",
            "community_id": DOOR.community_id,
            "occurred_at": utc_now().isoformat(),
            "door_id": "u3-1",
            "door_kind": "unit_door",
            "method": "card",
            "granted": True,
        }
    )
    timestamp = str(int(time.time()))
    headers = {
        DEVICE_HEADER: DOOR.device_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
    return await http.post(f"{url}/ingest/v1/door-access", content=body, headers=headers)


async def answer_once_loaded(
    http: httpx.AsyncClient, bootstrap: str, key: str, secret: str
) -> httpx.Response:
    """Post until the server has read the credentials (503 'still loading' before that)."""
    settings = Settings(kafka_bootstrap=bootstrap, device_secret_key=SecretStr(key))
    runner = await serve_webhooks(settings, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline:
            answer = await post_signed(http, f"http://{host}:{port}", secret)
            if "still loading" not in answer.text:
                return answer
            await asyncio.sleep(0.1)
        raise AssertionError(f"credentials not loaded in {LOAD_TIMEOUT_SECONDS} s")
    finally:
        await runner.cleanup()


async def test_the_topic_never_holds_the_secret(kafka_bootstrap: str, issued: IssuedKey) -> None:
    stored = await raw_credentials(kafka_bootstrap)
    assert any(DOOR.device_id.encode() in value for value in stored)
    secret = issued.key.encode()
    assert not any(secret in value for value in stored)
    assert not any(secret.removeprefix(b"pgs_") in value for value in stored)
    assert not any(base64.b64encode(secret) in value for value in stored)


async def test_the_webhook_opens_it_and_authenticates(
    kafka_bootstrap: str, issued: IssuedKey, device_key: str, http: httpx.AsyncClient
) -> None:
    answer = await answer_once_loaded(http, kafka_bootstrap, device_key, issued.key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1


async def test_another_key_is_refused_with_a_clear_message(
    kafka_bootstrap: str,
    issued: IssuedKey,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="ingest.http.auth"):
        answer = await answer_once_loaded(http, kafka_bootstrap, new_key(), issued.key)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == (
        "the server cannot check signatures just now; its operator has been told"
    )
    assert f"device {DOOR.device_id}'s signing secret does not open with this " in caplog.text
    assert "PINGAN_DEVICE_SECRET_KEY" in caplog.text
