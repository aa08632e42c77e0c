"""Embedded mode: a real `pingan worker` serves the webhooks on its API port, and a posted
passage travels Kafka → worker → ClickHouse to the GraphQL API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest

from ingest.http.credentials import issue_key
from pingan.platform.publisher import Publisher
from schemas.credentials import CredentialScheme
from schemas.events import DeviceKind, utc_now
from schemas.reference import Device
from tests.conftest import WorkerProcess, eventually

pytestmark = pytest.mark.integration

GATE_CAMERA = Device(device_id="gate-cam-e", community_id="c03", device_kind=DeviceKind.CAMERA)
PLATE = "浙B7E123"


def register(bootstrap: str) -> str:
    issued = issue_key(GATE_CAMERA.device_id, CredentialScheme.BEARER, "test", utc_now())

    async def publish() -> None:
        async with Publisher(bootstrap) as publisher:
            await publisher.publish_many([GATE_CAMERA, issued.credential])

    asyncio.run(publish())
    return issued.key


def test_webhook_passage_reaches_clickhouse_through_the_worker(
    kafka_bootstrap: str, worker_process: WorkerProcess
) -> None:
    key = register(kafka_bootstrap)
    worker_process.start()
    url = f"http://127.0.0.1:{worker_process.api_port}/ingest/v1/vehicle-passages"
    event = {
        "event_id": f"p-{uuid.uuid4().hex}",
        "community_id": "c03",
        "occurred_at": (utc_now() - timedelta(seconds=5)).isoformat(),
        "plate": PLATE,
        "plate_colour": "blue",
        "direction": "in",
        "gate_id": "c03-g1",
        "camera_id": GATE_CAMERA.device_id,
        "confidence": 0.9,
    }
    headers = {"Authorization": f"Bearer {key}"}

    def post() -> httpx.Response:
        return httpx.post(url, json=event, headers=headers, timeout=30)

    first = eventually(lambda: (answer := post()).status_code != 503 and answer)
    assert first.json() == {"accepted": 1, "published": 1, "duplicates": 0}
    assert post().json() == {"accepted": 1, "published": 0, "duplicates": 1}

    query = (
        'query($p: String) { vehiclePassages(plate: $p, purpose: "test") '
        "{ totalCount edges { node { id } } } }"
    )

    def stored() -> dict | None:
        """The count and the page are two reads: wait until the page holds the row too."""
        passages = worker_process.graphql(query, {"p": PLATE})["data"]["vehiclePassages"]
        return passages if passages["totalCount"] and passages["edges"] else None

    passages = eventually(stored, timeout=60)
    assert [e["node"]["id"] for e in passages["edges"]] == [event["event_id"]]
    assert httpx.get(f"http://127.0.0.1:{worker_process.api_port}/healthz").is_success
