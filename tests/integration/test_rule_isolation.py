"""One rule's bug never stops the others: a rule raising on one event is isolated.

A real worker runs the catalogue plus a test-only rule that raises on one SOS press (after
changing its state in place). The catalogue's bracelet_sos rule must still alert on that
press and the later ones, the faulty rule must go on with the next presses from the state it
had before the bad one, and the (rule, event) pair must be dead-lettered with its reason.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.warehouse import open_warehouse
from schemas.events import BraceletReading, Wearer, utc_now
from schemas.topics import ALERTS, BRACELET_READINGS, DEAD_LETTERS, EVENT_TOPICS
from tests.conftest import WorkerProcess, eventually, group_caught_up
from tests.integration.faulty_rule_worker import POISON, TALLY_PREFIX

pytestmark = pytest.mark.integration

BRACELET = "c02-br-isolation"


def press(event_id: str, at: datetime) -> BraceletReading:
    return BraceletReading(
        event_id=event_id,
        community_id="c02",
        occurred_at=at,
        received_at=at,
        bracelet_id=BRACELET,
        wearer=Wearer.ELDERLY,
        sos=True,
        battery=0.8,
    )


async def publish(bootstrap: str, events: list[BraceletReading]) -> None:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(events)


def query(worker: WorkerProcess, sql: str, params: dict) -> list[dict]:
    warehouse = open_warehouse(Settings(data_dir=worker.data_dir))
    try:
        return warehouse.query(sql, params)
    finally:
        warehouse.close()


def text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def test_a_raising_rule_is_isolated(worker_process: WorkerProcess, kafka_bootstrap: str) -> None:
    worker_process.command = ["-m", "tests.integration.faulty_rule_worker"]
    start = utc_now() - timedelta(minutes=10)
    ids = [f"sos-{uuid.uuid4()}", f"{POISON}{uuid.uuid4()}", f"sos-{uuid.uuid4()}"]
    presses = [press(event_id, start + timedelta(minutes=n)) for n, event_id in enumerate(ids)]

    worker_process.start()
    asyncio.run(publish(kafka_bootstrap, presses))
    group = worker_process.env["PINGAN_WORKER_ID"]
    eventually(
        lambda: group_caught_up(kafka_bootstrap, group, [*EVENT_TOPICS, ALERTS, DEAD_LETTERS]),
        timeout=120,
    )
    health = httpx.get(f"http://127.0.0.1:{worker_process.api_port}/healthz", timeout=10)
    worker_process.stop()

    assert health.status_code == 200, "rules failing never stop the pipeline"
    assert health.json()["status"] == "degraded"
    (failing,) = health.json()["rule_failures"]
    assert failing["rule"] == "tally_sos" and failing["events"] == 1
    assert ids[1] in failing["last_reason"]

    alerts = query(
        worker_process,
        "SELECT subject, count, explanation FROM alerts FINAL "
        "WHERE alert_type = 'BRACELET_SOS' AND (subject = {s:String} OR subject = {t:String})",
        {"s": BRACELET, "t": f"{TALLY_PREFIX}{BRACELET}"},
    )
    by_subject = {text(a["subject"]): a for a in alerts}
    assert by_subject[BRACELET]["count"] == 3, "bracelet_sos alerts on every press"
    tally = by_subject[f"{TALLY_PREFIX}{BRACELET}"]
    assert tally["count"] == 2
    assert text(tally["explanation"]) == f"presses: {ids[0]}, {ids[2]}"
    (dead,) = query(
        worker_process,
        "SELECT source_topic, reason, raw FROM dead_letters FINAL "
        "WHERE reason LIKE 'rule tally_sos%'",
        {},
    )
    assert text(dead["source_topic"]) == BRACELET_READINGS.name
    assert text(dead["reason"]) == f"rule tally_sos raised KeyError('{ids[1]}') on this event"
    assert ids[1] in text(dead["raw"])
