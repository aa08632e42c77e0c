"""An officer's step on an alert (acknowledge, resolve, assign) holds for every alert type.

The officer's version is published as the API does: the alert's next version, keyed by
community, on `pingan.alerts`. Plate-keyed alerts (CLONED_PLATE, ROAMING_VEHICLE) live in
the plate rules' book, on other partitions than the alerts topic's (issue 13): a later
read of the plate must still keep the officer's status.

One real worker for the module; alerts are read back from Kafka. That the sink writes
alerts with their assignee is checked on chDB directly (the worker holds its data directory).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from pingan.platform.district import community_ids
from pingan.platform.provision import prepare_warehouse
from pingan.platform.publisher import Publisher
from pingan.platform.settings import Settings
from pingan.platform.stack.kafka import free_port
from pingan.platform.warehouse import open_warehouse
from schemas.alerts import Alert, AlertStatus, AlertType, Severity, SubjectKind
from schemas.codec import decode, encode
from schemas.events import Event, utc_now
from schemas.topics import ALERTS, ALL_TOPICS, EVENT_TOPICS
from streams.alert_book import ONE_MS
from streams.intake import Intake
from streams.sink import Message, SinkStats, TableSink
from tests.conftest import WorkerProcess, eventually, group_caught_up
from tests.integration.test_rule_engine import far_apart, passage, publish, sighting

pytestmark = pytest.mark.integration

WORKER_INPUTS = [
    *EVENT_TOPICS,
    ALERTS,
    *(t for t in ALL_TOPICS if t.name.startswith("pingan.rules.")),
]
"""What the worker consumes: events, alerts, and the topics it re-keys onto itself."""
DOG_COMMUNITY = "c09"


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(kafka_bootstrap, tmp_path_factory.mktemp("worker"), free_port())
    worker.start()
    yield worker
    worker.stop()


async def _alert_versions(bootstrap: str) -> list[Alert]:
    """Every alert version on the alerts topic so far."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(ALERTS.name, p) for p in range(ALERTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        versions: list[Alert] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            for messages in batches.values():
                versions += [decode(m.value, Alert) for m in messages]
        return versions
    finally:
        await consumer.stop()


def latest_alert(bootstrap: str, alert_type: AlertType, subject: str) -> Alert | None:
    """The newest version of the subject's alert on the alerts topic, if any."""
    versions = [
        a
        for a in asyncio.run(_alert_versions(bootstrap))
        if a.alert_type is alert_type and a.subject == subject
    ]
    return max(versions, key=lambda a: a.updated_at) if versions else None


def counted(bootstrap: str, alert_type: AlertType, subject: str, count: int) -> Alert | None:
    alert = latest_alert(bootstrap, alert_type, subject)
    return alert if alert is not None and alert.count == count else None


def officer_version(
    current: Alert, status: AlertStatus, note: str | None, assigned_to: str | None = None
) -> Alert:
    """The alert's next version as the API publishes it: later updated_at, officer fields."""
    changes: dict[str, object] = {
        "status": status,
        "note": note,
        "updated_at": max(utc_now(), current.updated_at + ONE_MS),
    }
    if assigned_to is not None:
        changes["assigned_to"] = assigned_to
    return Alert.model_validate(current.model_dump() | changes)


def officer_publishes(bootstrap: str, alert: Alert) -> None:
    async def send() -> None:
        async with Publisher(bootstrap) as publisher:
            await publisher.publish(alert)

    asyncio.run(send())


def caught_up(bootstrap: str, worker: WorkerProcess) -> bool:
    """Nothing left to process, including what the worker forwarded to itself. The alerts'
    offsets are committed once their batch is in ClickHouse (the sink retries until it is)."""
    return group_caught_up(bootstrap, worker.env["PINGAN_WORKER_ID"], WORKER_INPUTS)


def test_officer_acknowledgement_of_a_cloned_plate_survives_the_next_read(
    worker: WorkerProcess, kafka_bootstrap: str
) -> None:
    plate = f"浙T{uuid.uuid4().int % 90_000 + 10_000}"
    first, second, km = far_apart()
    gap = timedelta(hours=km / 240.0)  # twice the 120 km/h a car could manage
    seen_first = passage(plate, first, utc_now() - timedelta(minutes=30))
    seen_second = passage(plate, second, seen_first.occurred_at + gap)
    asyncio.run(publish(kafka_bootstrap, [seen_first, seen_second]))
    opened = eventually(lambda: counted(kafka_bootstrap, AlertType.CLONED_PLATE, plate, 1), 60)
    assert opened.status is AlertStatus.OPEN

    acknowledged = officer_version(opened, AlertStatus.ACKNOWLEDGED, "patrol sent")
    officer_publishes(kafka_bootstrap, acknowledged)
    eventually(lambda: caught_up(kafka_bootstrap, worker), 60)

    seen_again = passage(plate, first, seen_second.occurred_at + gap).model_copy(
        update={"received_at": utc_now()}  # read after the officer acted, as in the field
    )
    asyncio.run(publish(kafka_bootstrap, [seen_again]))
    updated = eventually(lambda: counted(kafka_bootstrap, AlertType.CLONED_PLATE, plate, 2), 60)

    assert updated.alert_id == opened.alert_id
    assert updated.status is AlertStatus.ACKNOWLEDGED
    assert updated.note == "patrol sent"
    assert updated.updated_at > acknowledged.updated_at
    eventually(lambda: caught_up(kafka_bootstrap, worker), 60)  # the sink wrote every version


def test_officer_acknowledgement_and_assignment_of_a_community_alert_survive_updates(
    worker: WorkerProcess, kafka_bootstrap: str
) -> None:
    start = utc_now() - timedelta(hours=1)
    sightings: list[Event] = [
        sighting(DOG_COMMUNITY, f"{DOG_COMMUNITY}-pub{n}", start + timedelta(minutes=10 * n))
        for n in range(3)
    ]
    asyncio.run(publish(kafka_bootstrap, sightings))
    opened = eventually(lambda: counted(kafka_bootstrap, AlertType.STRAY_DOG, DOG_COMMUNITY, 1), 60)

    acknowledged = officer_version(
        opened, AlertStatus.ACKNOWLEDGED, "animal control called", assigned_to="officer-7"
    )
    officer_publishes(kafka_bootstrap, acknowledged)
    eventually(lambda: caught_up(kafka_bootstrap, worker), 60)

    asyncio.run(
        publish(
            kafka_bootstrap,
            [sighting(DOG_COMMUNITY, f"{DOG_COMMUNITY}-pub9", start + timedelta(minutes=40))],
        )
    )
    updated = eventually(
        lambda: counted(kafka_bootstrap, AlertType.STRAY_DOG, DOG_COMMUNITY, 2), 60
    )

    assert updated.alert_id == opened.alert_id
    assert updated.status is AlertStatus.ACKNOWLEDGED
    assert updated.assigned_to == "officer-7"
    eventually(lambda: caught_up(kafka_bootstrap, worker), 60)  # the sink wrote every version


def test_the_sink_writes_an_alerts_assignee(tmp_path: Path) -> None:
    """The sink's Arrow schema comes from the table: the column must be there to keep it."""
    settings = Settings(data_dir=tmp_path)
    warehouse = open_warehouse(settings)
    try:
        prepare_warehouse(warehouse, settings)
        at = utc_now()
        alert = Alert(
            alert_id="STRAY_DOG:c09:e1",
            alert_type=AlertType.STRAY_DOG,
            severity=Severity.LOW,
            status=AlertStatus.ACKNOWLEDGED,
            community_id="c09",
            subject_kind=SubjectKind.COMMUNITY,
            subject="c09",
            first_seen=at,
            last_seen=at,
            explanation="dogs",
            raised_at=at,
            updated_at=at,
            source_received_at=at,
            assigned_to="officer-7",
        )

        async def rejected(dead_letter: object) -> None:
            raise AssertionError(f"rejected: {dead_letter}")

        sink = TableSink(
            warehouse, ALERTS, Intake(community_ids(), timedelta(minutes=5)), rejected, SinkStats()
        )
        message = Message(ALERTS.name, 0, 0, b"c09", encode(alert), {})
        assert asyncio.run(sink.write([message])) == 1
        rows = warehouse.query(
            "SELECT status, assigned_to FROM alerts FINAL WHERE alert_id = {id:String}",
            {"id": alert.alert_id},
        )
        assert rows == [{"status": "acknowledged", "assigned_to": "officer-7"}]
    finally:
        warehouse.close()
