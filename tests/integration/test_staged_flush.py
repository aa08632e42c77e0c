"""A flush that fails keeps its records staged, so the next one delivers them: on a real
broker, a flush to a topic that does not exist yet fails, the topic is created, and the
retried flush delivers every record and runs each local write once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
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


def test_a_failed_flush_is_delivered_by_the_next(kafka_bootstrap: str) -> None:
    asyncio.run(_flush_fails_then_delivers(kafka_bootstrap))
