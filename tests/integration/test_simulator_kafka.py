"""The simulator against a real broker: Kafka holds exactly what the report says was sent."""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from ingest.simulator import District, SimClock, SimulationReport, Simulator
from ingest.simulator.malformed import MALFORMED_HEADER
from pingan.platform.publisher import Publisher
from schemas.alerts import WatchlistPlate
from schemas.codec import decode
from schemas.events import Event, VehiclePassage, normalise_plate, utc_now
from schemas.topics import EVENT_TOPICS, VEHICLE_PASSAGES, WATCHLIST_PLATES, Topic

pytestmark = pytest.mark.integration

TOPICS: tuple[Topic, ...] = (*EVENT_TOPICS, WATCHLIST_PLATES)
PARTITIONS = [TopicPartition(t.name, p) for t in TOPICS for p in range(t.partitions)]


async def read_range(
    consumer: AIOKafkaConsumer,
    start: dict[TopicPartition, int],
    end: dict[TopicPartition, int],
    timeout: float = 30.0,
) -> dict[str, list[ConsumerRecord]]:
    """Every message between two offset snapshots, by topic name."""
    consumer.assign(list(start))
    for partition, offset in start.items():
        consumer.seek(partition, offset)
    messages: dict[str, list[ConsumerRecord]] = defaultdict(list)
    deadline = time.monotonic() + timeout
    pending = {tp for tp in start if end[tp] > start[tp]}
    while pending and time.monotonic() < deadline:
        for partition, records in (await consumer.getmany(timeout_ms=500)).items():
            messages[partition.topic].extend(r for r in records if r.offset < end[partition])
        pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
    assert not pending, f"messages missing from {sorted(tp.topic for tp in pending)}"
    return messages


@pytest.fixture
async def consumer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"pingan-test-simulator-{uuid.uuid4().hex}",
        enable_auto_commit=False,
    )
    await consumer.start()
    yield consumer
    await consumer.stop()


async def simulate(bootstrap: str, simulator: Simulator) -> SimulationReport:
    async with Publisher(bootstrap) as publisher:
        return await simulator.run(publisher, rate=300.0, duration=3.0)


async def test_kafka_holds_what_the_report_counts(
    kafka_bootstrap: str, consumer: AIOKafkaConsumer
) -> None:
    before = await consumer.end_offsets(PARTITIONS)
    simulator = Simulator(
        District.build(11), SimClock.plan(), incident_every=1.0, malformed_every=60
    )
    report = await simulate(kafka_bootstrap, simulator)
    after = await consumer.end_offsets(PARTITIONS)
    messages = await read_range(consumer, before, after)

    assert report.events == 900 + report.incidents
    assert report.incidents == len(simulator.labels) == 3
    assert report.malformed > 0  # one per 60 activity events; heartbeats are not drawn
    for topic in EVENT_TOPICS:
        extra = report.malformed if topic is VEHICLE_PASSAGES else 0
        assert len(messages[topic.name]) == report.counts[topic.record.kind] + extra, topic.name

    events: dict[str, Event] = {}
    malformed = 0
    for topic in EVENT_TOPICS:
        for message in messages[topic.name]:
            if any(name == MALFORMED_HEADER for name, _ in message.headers):
                malformed += 1
                continue
            event = decode(message.value, topic.record)
            assert message.key == event.community_id.encode()
            assert event.occurred_at <= utc_now()
            events[event.event_id] = event
    assert malformed == report.malformed
    assert Counter(e.kind for e in events.values()) == report.counts

    for label in simulator.labels:
        passage = events[label.event_id]
        assert isinstance(passage, VehiclePassage)
        assert (passage.plate, passage.community_id) == (label.subject, label.community_id)

    watchlist = [decode(m.value, WatchlistPlate) for m in messages[WATCHLIST_PLATES.name]]
    assert len(watchlist) == report.watchlist == len(simulator.district.watchlist)
    for message, entry in zip(messages[WATCHLIST_PLATES.name], watchlist, strict=True):
        assert message.key == normalise_plate(entry.plate).encode()
        assert entry.added_by == "simulator"
    assert {label.subject for label in simulator.labels} <= {entry.plate for entry in watchlist}
