"""Device webhooks over real HTTP on loopback, publishing to a real broker.

Every accepted event is read back from Kafka; every refusal is checked for its status and
message, and for having published nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import orjson
import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from ingest.http.auth import signature
from ingest.http.credentials import IssuedKey, issue_key, key_sha256, revoked
from ingest.http.server import serve_webhooks
from pingan.platform.provision import create_topics
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.stack import kafka
from pingan.platform.stack.kafka import free_port
from schemas.codec import decode
from schemas.credentials import CredentialScheme
from schemas.events import (
    BoundingBox,
    DeviceKind,
    DoorAccess,
    Event,
    FaceCapture,
    VehiclePassage,
    utc_now,
)
from schemas.reference import Device
from schemas.topics import DOOR_ACCESS, FACE_CAPTURES, VEHICLE_PASSAGES, Topic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

MAX_BODY = 64 * 1024
MAX_SNAPSHOT = 256 * 1024
RETRY_AFTER = 3

GATE_CAMERA = Device(device_id="gate-cam-1", community_id="c01", device_kind=DeviceKind.CAMERA)
DOOR = Device(device_id="door-1", community_id="c01", device_kind=DeviceKind.DOOR)
SIGNING_DOOR = Device(device_id="door-2", community_id="c02", device_kind=DeviceKind.DOOR)
UNIT_CAMERA = Device(device_id="unit-cam-1", community_id="c01", device_kind=DeviceKind.CAMERA)


def webhook_settings(bootstrap: str, **overrides: Any) -> Settings:
    return Settings(
        kafka_bootstrap=bootstrap,
        ingest_max_body_bytes=MAX_BODY,
        ingest_max_snapshot_bytes=MAX_SNAPSHOT,
        ingest_retry_after_seconds=RETRY_AFTER,
        **overrides,
    )


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Poll an async check without blocking the loop the server runs on."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


async def read_topic(bootstrap: str, topic: Topic) -> list[ConsumerRecord]:
    """Everything on the topic up to its current end, without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        messages: list[ConsumerRecord] = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            for batch in batches.values():
                messages += batch
        return messages
    finally:
        await consumer.stop()


async def published(bootstrap: str, topic: Topic, event_ids: set[str]) -> list[Event]:
    assert topic.record is not None
    records = [decode(m.value, topic.record) for m in await read_topic(bootstrap, topic)]
    return [r for r in records if isinstance(r, Event) and r.event_id in event_ids]


def passage(community_id: str = "c01", **fields: Any) -> dict[str, Any]:
    event = {
        "event_id": f"p-{uuid.uuid4().hex}",
        "community_id": community_id,
        "occurred_at": (utc_now() - timedelta(seconds=1)).isoformat(),
        "plate": "浙A12345",
        "plate_colour": "blue",
        "direction": "in",
        "gate_id": "g1",
        "camera_id": GATE_CAMERA.device_id,
        "confidence": 0.95,
    }
    event.update(fields)
    return event


def door_access(community_id: str = "c01") -> dict[str, Any]:
    return {
        "event_id": f"d-{uuid.uuid4().hex}",
        "community_id": community_id,
        "occurred_at": utc_now().isoformat(),
        "door_id": "u3-1",
        "door_kind": "unit_door",
        "method": "card",
        "granted": True,
    }


def ids(events: Sequence[dict[str, Any]]) -> set[str]:
    return {e["event_id"] for e in events}


def jpeg(width: int = 64, height: int = 48, grey: int = 128) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((height, width, 3), grey, np.uint8))
    assert ok
    return data.tobytes()


CRASHING = jpeg(grey=13)
"""The image the stand-in pipeline fails on unexpectedly."""


async def analyse_snapshot(
    image: bytes, camera_id: str, camera: Device, at: datetime
) -> list[Event]:
    """Stands in for the face pipeline: one capture per upload (its id from the image and
    time, as the real one), or what a crash does."""
    if image == CRASHING:
        raise RuntimeError("model exploded at /srv/secret/path.py line 42")
    digest = hashlib.sha256(image + at.isoformat().encode()).hexdigest()
    return [
        FaceCapture(
            event_id=f"f-{digest[:24]}",
            community_id=camera.community_id,
            occurred_at=at,
            received_at=utc_now(),
            camera_id=camera_id,
            embedding=[len(image) / 1e6] * 512,
            quality=0.9,
            bbox=BoundingBox(x=1, y=2, width=30, height=40),
        )
    ]


@dataclass
class Webhooks:
    bootstrap: str
    url: str
    http: httpx.AsyncClient
    keys: dict[str, str]

    async def post(
        self, path: str, body: Any, device_id: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if device_id is not None:
            headers["Authorization"] = f"Bearer {self.keys[device_id]}"
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return await self.http.post(
            f"{self.url}/ingest/v1/{path}", content=content, headers=headers, **kwargs
        )


async def register(
    bootstrap: str, *devices: Device, scheme: CredentialScheme
) -> dict[str, IssuedKey]:
    """Devices on the reference topic and a key for each, as `pingan ingest keys` does."""
    issued = {d.device_id: issue_key(d.device_id, scheme, "test", utc_now()) for d in devices}
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many([*devices, *(i.credential for i in issued.values())])
    return issued


def keys_of(issued: dict[str, IssuedKey]) -> dict[str, str]:
    return {device_id: i.key for device_id, i in issued.items()}


async def start_server(settings: Settings, http: httpx.AsyncClient) -> tuple[web.AppRunner, str]:
    runner = await serve_webhooks(settings, "127.0.0.1", 0, face_snapshots=analyse_snapshot)
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"

    async def credentials_loaded() -> bool:
        answer = await http.post(f"{url}/ingest/v1/door-access", content=b"{}")
        return answer.status_code != 503

    await until(credentials_loaded)
    return runner, url


@pytest.fixture(scope="module")
async def hooks(kafka_bootstrap: str) -> AsyncIterator[Webhooks]:
    keys = keys_of(
        await register(
            kafka_bootstrap, GATE_CAMERA, DOOR, UNIT_CAMERA, scheme=CredentialScheme.BEARER
        )
    )
    keys |= keys_of(await register(kafka_bootstrap, SIGNING_DOOR, scheme=CredentialScheme.HMAC))
    async with httpx.AsyncClient(timeout=30) as http:
        runner, url = await start_server(webhook_settings(kafka_bootstrap), http)
        try:
            yield Webhooks(kafka_bootstrap, url, http, keys)
        finally:
            await runner.cleanup()


async def test_single_passage_is_answered_after_kafka_has_it(hooks: Webhooks) -> None:
    event = passage()
    before = utc_now()
    answer = await hooks.post("vehicle-passages", event, GATE_CAMERA.device_id)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1, "published": 1, "duplicates": 0}
    [stored] = await published(hooks.bootstrap, VEHICLE_PASSAGES, ids([event]))
    assert isinstance(stored, VehiclePassage)
    assert stored.plate == "浙A12345"
    assert stored.received_at >= before - timedelta(milliseconds=1)


async def test_batch_reaches_kafka_keyed_by_community(hooks: Webhooks) -> None:
    batch = [door_access() for _ in range(50)]
    answer = await hooks.post("door-access", batch, DOOR.device_id)
    assert answer.json() == {"accepted": 50, "published": 50, "duplicates": 0}
    messages = [m for m in await read_topic(hooks.bootstrap, DOOR_ACCESS) if m.key == b"c01"]
    found = {decode(m.value, DoorAccess).event_id for m in messages}
    assert ids(batch) <= found


async def test_retries_and_concurrent_retries_publish_once(hooks: Webhooks) -> None:
    event = passage()
    first = await hooks.post("vehicle-passages", event, GATE_CAMERA.device_id)
    again = await hooks.post("vehicle-passages", event, GATE_CAMERA.device_id)
    assert first.json()["published"] == 1
    assert again.status_code == 200
    assert again.json() == {"accepted": 1, "published": 0, "duplicates": 1}
    racing = passage()
    answers = await asyncio.gather(
        *(hooks.post("vehicle-passages", racing, GATE_CAMERA.device_id) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {200}
    assert sum(a.json()["published"] for a in answers) == 1
    stored = await published(hooks.bootstrap, VEHICLE_PASSAGES, ids([event, racing]))
    assert sorted(e.event_id for e in stored) == sorted(ids([event, racing]))


async def test_batch_with_a_bad_event_is_refused_whole(hooks: Webhooks) -> None:
    bad = [passage(), passage(confidence=1.5), passage()]
    answer = await hooks.post("vehicle-passages", bad, GATE_CAMERA.device_id)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"].startswith("invalid vehicle_passage: [1] confidence:")
    assert [(p["index"], p["field"]) for p in body["problems"]] == [(1, "confidence")]
    marker = passage()
    assert (await hooks.post("vehicle-passages", marker, GATE_CAMERA.device_id)).is_success
    stored = await published(hooks.bootstrap, VEHICLE_PASSAGES, ids([*bad, marker]))
    assert [e.event_id for e in stored] == [marker["event_id"]]


async def test_not_json_gets_400(hooks: Webhooks) -> None:
    answer = await hooks.post("door-access", b"plate=1", DOOR.device_id)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("body is not JSON")


async def test_missing_unknown_and_revoked_keys_get_401(hooks: Webhooks) -> None:
    nobody = await hooks.post("door-access", door_access())
    assert nobody.status_code == 401
    assert nobody.json()["error"].startswith("missing credentials")
    stranger = await hooks.post(
        "door-access", door_access(), headers={"Authorization": "Bearer pgk_made-up"}
    )
    assert (stranger.status_code, stranger.json()["error"]) == (
        401,
        "unknown or revoked device key",
    )
    leaving = Device(device_id="door-old", community_id="c01", device_kind=DeviceKind.DOOR)
    [issued] = (await register(hooks.bootstrap, leaving, scheme=CredentialScheme.BEARER)).values()
    hooks.keys["door-old"] = issued.key

    async def status() -> int:
        return (await hooks.post("door-access", door_access(), "door-old")).status_code

    await until(lambda: _equals(status(), 200))
    async with Publisher(hooks.bootstrap) as publisher:
        await publisher.publish(revoked(issued.credential, "test", utc_now()))
    await until(lambda: _equals(status(), 401))


async def test_wrong_kind_and_foreign_community_get_403(hooks: Webhooks) -> None:
    wrong_kind = await hooks.post("vehicle-passages", passage(), DOOR.device_id)
    assert wrong_kind.status_code == 403
    assert wrong_kind.json()["error"] == (
        "device door-1 is a door; only camera devices may post to /ingest/v1/vehicle-passages"
    )
    foreign = [passage(), passage(community_id="c02")]
    answer = await hooks.post("vehicle-passages", foreign, GATE_CAMERA.device_id)
    assert answer.status_code == 403
    assert answer.json()["error"] == (
        "[1] community_id: c02 is not the community of device gate-cam-1 (c01)"
    )
    marker = passage()
    await hooks.post("vehicle-passages", marker, GATE_CAMERA.device_id)
    stored = await published(hooks.bootstrap, VEHICLE_PASSAGES, ids([*foreign, marker]))
    assert [e.event_id for e in stored] == [marker["event_id"]]


async def test_oversized_body_gets_413(hooks: Webhooks) -> None:
    batch = [passage() for _ in range(400)]
    body = orjson.dumps(batch)
    assert len(body) > MAX_BODY
    answer = await hooks.post("vehicle-passages", body, GATE_CAMERA.device_id)
    assert answer.status_code == 413
    assert answer.json()["error"] == (
        f"body of {len(body)} bytes exceeds the limit of {MAX_BODY} bytes; "
        "split the batch or shrink the upload"
    )

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    streamed = await hooks.http.post(
        f"{hooks.url}/ingest/v1/vehicle-passages",
        content=chunked(),
        headers={"Authorization": f"Bearer {hooks.keys[GATE_CAMERA.device_id]}"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"].startswith(f"body exceeds the limit of {MAX_BODY} bytes")


def signed(secret: str, body: bytes, timestamp: float, device_id: str) -> dict[str, str]:
    stamp = str(int(timestamp))
    return {
        "X-Pingan-Device": device_id,
        "X-Pingan-Timestamp": stamp,
        "X-Pingan-Signature": signature(secret, stamp, body),
    }


async def test_hmac_signed_posts(hooks: Webhooks) -> None:
    secret = hooks.keys[SIGNING_DOOR.device_id]
    good = [door_access("c02"), door_access("c02")]
    body = orjson.dumps(good)
    now = time.time()
    accepted = await hooks.post(
        "door-access", body, headers=signed(secret, body, now, SIGNING_DOOR.device_id)
    )
    assert accepted.json() == {"accepted": 2, "published": 2, "duplicates": 0}

    forged_body = orjson.dumps([door_access("c02")])
    forged = await hooks.post(
        "door-access", forged_body, headers=signed(secret, body, now, SIGNING_DOOR.device_id)
    )
    assert forged.status_code == 401
    assert "X-Pingan-Signature does not match" in forged.json()["error"]

    stale_body = orjson.dumps([door_access("c02")])
    stale = await hooks.post(
        "door-access",
        stale_body,
        headers=signed(secret, stale_body, now - 3600, SIGNING_DOOR.device_id),
    )
    assert stale.status_code == 401
    assert "away from the server clock (allowed: 300 s)" in stale.json()["error"]

    stored = await published(
        hooks.bootstrap,
        DOOR_ACCESS,
        ids(good) | ids(orjson.loads(forged_body)) | ids(orjson.loads(stale_body)),
    )
    assert {e.event_id for e in stored} == ids(good)


async def test_face_snapshot_upload_publishes_what_the_analyser_returns(hooks: Webhooks) -> None:
    image = jpeg(width=320, height=240)
    answer = await hooks.http.post(
        f"{hooks.url}/ingest/v1/face-snapshots",
        files={"image": ("door.jpg", image, "image/jpeg")},
        data={"camera_id": UNIT_CAMERA.device_id},
        headers={"Authorization": f"Bearer {hooks.keys[UNIT_CAMERA.device_id]}"},
    )
    assert answer.json() == {"accepted": 1, "published": 1, "duplicates": 0}
    captures = [
        decode(m.value, FaceCapture) for m in await read_topic(hooks.bootstrap, FACE_CAPTURES)
    ]
    assert [c.embedding[0] for c in captures if c.camera_id == UNIT_CAMERA.device_id] == [
        len(image) / 1e6
    ]


async def snapshot(hooks: Webhooks, image: bytes, camera_id: str, device: str) -> httpx.Response:
    return await hooks.http.post(
        f"{hooks.url}/ingest/v1/face-snapshots",
        files={"image": ("x.jpg", image, "image/jpeg")},
        data={"camera_id": camera_id},
        headers={"Authorization": f"Bearer {hooks.keys[device]}"},
    )


async def test_bad_snapshots_get_clear_answers(hooks: Webhooks) -> None:
    cam = UNIT_CAMERA.device_id
    garbage = await snapshot(hooks, b"GARBAGE bytes", cam, cam)
    assert (garbage.status_code, garbage.json()["error"]) == (
        400,
        "image: not a JPEG or PNG image",
    )
    truncated = await snapshot(hooks, jpeg()[:12], cam, cam)
    assert (truncated.status_code, truncated.json()["error"]) == (
        400,
        "image: not a JPEG or PNG image",
    )
    huge = await snapshot(hooks, b"\xff" * (MAX_SNAPSHOT + 1), cam, cam)
    assert huge.status_code == 413
    unknown_camera = await snapshot(hooks, b"\xff\xd8", "cam-nowhere", cam)
    assert (unknown_camera.status_code, unknown_camera.json()["error"]) == (
        403,
        "camera_id: cam-nowhere is not a registered camera",
    )
    door = await snapshot(hooks, b"\xff\xd8", cam, DOOR.device_id)
    assert door.status_code == 403


async def test_unexpected_failure_is_a_generic_500_without_a_trace(hooks: Webhooks) -> None:
    answer = await snapshot(hooks, CRASHING, UNIT_CAMERA.device_id, UNIT_CAMERA.device_id)
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error.startswith("internal error (incident ")
    assert "Traceback" not in answer.text and "secret" not in answer.text


async def pingan_ingest(bootstrap: str, *args: str) -> tuple[int, str, str]:
    """`pingan ingest …` as an operator runs it, in its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from ingest.cli import ingest; ingest()",
        *args,
        cwd=REPO,
        env={**os.environ, "KAFKA_BOOTSTRAP": bootstrap},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_keys_cli_issues_a_working_key_and_revokes_it(hooks: Webhooks) -> None:
    gate = Device(device_id="gate-cam-cli", community_id="c01", device_kind=DeviceKind.CAMERA)
    async with Publisher(hooks.bootstrap) as publisher:
        await publisher.publish(gate)
    cli = ("keys", "issue", "--device", gate.device_id)
    code, out, err = await pingan_ingest(hooks.bootstrap, *cli)
    assert code == 0, err
    key = out.strip()
    assert key.startswith("pgk_") and out == key + "\n"
    assert f"issued bearer key {key_sha256(key)[:12]} to gate-cam-cli (camera in c01)" in err
    hooks.keys[gate.device_id] = key

    async def status() -> int:
        return (await hooks.post("vehicle-passages", passage(), gate.device_id)).status_code

    await until(lambda: _equals(status(), 200))
    cli = ("keys", "revoke", "--device", gate.device_id)
    code, _, err = await pingan_ingest(hooks.bootstrap, *cli)
    assert code == 0, err
    assert err.strip() == f"revoked key {key_sha256(key)[:12]} of gate-cam-cli"
    await until(lambda: _equals(status(), 401))


async def test_keys_cli_refuses_unknown_devices_and_dead_keys(hooks: Webhooks) -> None:
    code, out, err = await pingan_ingest(hooks.bootstrap, "keys", "issue", "--device", "ghost")
    assert (code, out) == (2, "")
    assert err.strip() == "device ghost is not registered on pingan.reference.devices"
    code, _, err = await pingan_ingest(hooks.bootstrap, "keys", "revoke", "--device", "ghost")
    assert (code, err.strip()) == (2, "device ghost has no live key")


@pytest.fixture(scope="module")
def spare_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A second broker that the outage test stops and starts again."""
    data_dir: Path = tmp_path_factory.mktemp("spare-kafka")
    settings = Settings(
        data_dir=data_dir, kafka_port=free_port(), kafka_controller_port=free_port()
    )
    bootstrap = kafka.up(settings)
    asyncio.run(create_topics(bootstrap))
    yield settings
    kafka.down(settings)


async def test_kafka_outage_gets_429_with_retry_after_then_recovers(
    spare_broker: Settings,
) -> None:
    bootstrap = spare_broker.local_kafka_bootstrap
    keys = keys_of(await register(bootstrap, DOOR, scheme=CredentialScheme.BEARER))
    settings = webhook_settings(bootstrap, ingest_publish_timeout_seconds=2.0)
    async with httpx.AsyncClient(timeout=30) as http:
        runner, url = await start_server(settings, http)
        hooks = Webhooks(bootstrap, url, http, keys)
        try:
            assert (await hooks.post("door-access", door_access(), DOOR.device_id)).is_success
            await asyncio.to_thread(kafka.down, spare_broker)
            during = door_access()
            answer = await hooks.post("door-access", during, DOOR.device_id)
            assert answer.status_code == 429
            assert answer.headers["Retry-After"] == str(RETRY_AFTER)
            assert answer.json()["error"] == (
                f"Kafka did not acknowledge within 2 s; retry after {RETRY_AFTER} s "
                "with the same event_ids"
            )
            await asyncio.to_thread(kafka.up, spare_broker)

            async def retried() -> bool:
                retry = await hooks.post("door-access", during, DOOR.device_id)
                return retry.status_code == 200

            await until(retried, timeout=90)
            stored = await published(bootstrap, DOOR_ACCESS, ids([during]))
            assert [e.event_id for e in stored] == [during["event_id"]]
        finally:
            await runner.cleanup()


async def _equals(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected
