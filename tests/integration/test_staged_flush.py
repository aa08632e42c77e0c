"""Staged writes on a real broker. A flush that fails keeps its records staged, so the next
one delivers them: a flush to a topic that does not exist yet fails, the topic is created,
and the retried flush delivers every record and runs each local write once. And a state
record never reaches its changelog before the messages staged with it (alerts): a worker
killed in between would restart with a state saying the event was applied, and the alert
it raised would be lost for good."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from streams.staged_writes import StagedWrites

pytestmark = pytest.mark.integration


async def _create(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()


async def _read(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += [(r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    return found


async def _flush_fails_then_delivers(bootstrap: str) -> None:
    topic = f"pingan.test-staged-{uuid.uuid4().hex[:8]}"
    staged = StagedWrites(bootstrap, request_timeout_ms=2_000)
    await staged.start()
    applied: list[bytes] = []
    try:
        staged.put_state(topic, 0, b"k1", b"state-1", lambda: applied.append(b"k1"))
        staged.forward(topic, 2, b"plate", b"alert-1", [])
        with pytest.raises(KafkaError):
            await staged.flush()
        assert applied == [], "the local store is written only after the broker has it"

        staged.put_state(topic, 0, b"k2", b"state-2", lambda: applied.append(b"k2"))
        await _create(bootstrap, topic)
        await staged.flush()
    finally:
        await staged.stop()
    assert sorted(applied) == [b"k1", b"k2"]
    delivered = await _read(bootstrap, topic, expected=3)
    assert sorted(delivered) == [(b"k1", b"state-1"), (b"k2", b"state-2"), (b"plate", b"alert-1")]


async def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in (0, 1)]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def _alert_undelivered_state_unsent(bootstrap: str) -> dict[int, int]:
    changelog = f"pingan.test-changelog-{uuid.uuid4().hex[:8]}"
    alerts = f"pingan.test-alerts-{uuid.uuid4().hex[:8]}"
    await _create(bootstrap, changelog)
    staged = StagedWrites(bootstrap, request_timeout_ms=2_000)
    await staged.start()
    try:
        staged.put_state(changelog, 0, b"k1", b"applied offset 7", lambda: None)
        staged.forward(alerts, 2, b"c01", b"alert raised by offset 7", [])
        with pytest.raises(KafkaError):
            await staged.flush()
    finally:
        await staged.stop()
    return await _end_offsets(bootstrap, changelog)


def test_a_failed_flush_is_delivered_by_the_next(kafka_bootstrap: str) -> None:
    asyncio.run(_flush_fails_then_delivers(kafka_bootstrap))


def test_no_state_reaches_its_changelog_before_the_alerts_staged_with_it(
    kafka_bootstrap: str,
) -> None:
    ends = asyncio.run(_alert_undelivered_state_unsent(kafka_bootstrap))
    assert ends == {0: 0, 1: 0}, "the state record was sent although its alert was not delivered"
